package builtin

import (
	"fmt"
	"log/slog"
	"sync"

	scalibrlog "github.com/google/osv-scalibr/log"
)

var setLogger sync.Once

// slogAdapter sends scalibr's package-global log to slog: its errors and
// warnings as debug records (they concern single files of an image), the
// rest dropped.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Errorf(format string, args ...any) { a.log.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Error(args ...any)                 { a.log.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.log.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warn(args ...any)                  { a.log.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Infof(string, ...any)              {}
func (a slogAdapter) Info(...any)                       {}
func (a slogAdapter) Debugf(string, ...any)             {}
func (a slogAdapter) Debug(...any)                      {}

// quietScalibr installs the adapter once per process.
func quietScalibr(log *slog.Logger) {
	setLogger.Do(func() {
		if log == nil {
			log = slog.New(slog.DiscardHandler)
		}
		scalibrlog.SetLogger(slogAdapter{log.With("component", "scalibr")})
	})
}

package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Payload formats of a webhook.
const (
	FormatCloudEvents       = "cloudevents"        // CloudEvents 1.0, structured mode (application/cloudevents+json)
	FormatCloudEventsBinary = "cloudevents-binary" // CloudEvents 1.0, binary mode (ce-* headers, data as the body)
	FormatHarbor            = "harbor"             // Harbor's webhook JSON
	FormatDistribution      = "distribution"       // CNCF Distribution's notification envelope
	FormatSlack             = "slack"              // a Slack incoming-webhook message
)

// Formats lists the payload formats.
var Formats = []string{FormatCloudEvents, FormatCloudEventsBinary, FormatHarbor, FormatDistribution, FormatSlack}

// errUnrepresentable: the format has no way to say this event (the
// delivery is recorded as skipped, not failed).
var errUnrepresentable = errors.New("the format has no representation for this event type")

// CloudEventsType prefixes Berth's event types in the CloudEvents type
// attribute ("io.berth.manifest.pushed").
const CloudEventsType = "io.berth."

// Media types of the bodies.
const (
	mediaCloudEvents  = "application/cloudevents+json"
	mediaDistribution = "application/vnd.docker.distribution.events.v2+json"
	mediaJSON         = "application/json"
)

// eventData is the data of a CloudEvent (and the body of binary mode).
type eventData struct {
	Repository string         `json:"repository,omitempty"`
	Sequence   int64          `json:"sequence"`
	Digest     string         `json:"digest,omitempty"`
	MediaType  string         `json:"mediaType,omitempty"`
	Tags       []string       `json:"tags,omitempty"`
	Project    string         `json:"project,omitempty"`
	Actor      string         `json:"actor,omitempty"`
	Origin     string         `json:"origin,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
}

func dataOf(ev *Event) eventData {
	return eventData{Repository: ev.Repository, Sequence: ev.Sequence, Digest: ev.Digest.String(), MediaType: ev.MediaType,
		Tags: ev.Tags, Project: ev.Project, Actor: ev.Actor, Origin: ev.Origin, Details: ev.Data}
}

// subject is the CloudEvents subject: repository, with @digest.
func subject(ev *Event) string {
	if ev.Digest != "" {
		return ev.Repository + "@" + ev.Digest.String()
	}
	return ev.Repository
}

// Encode renders an event in format. source is the registry's external
// address (the CloudEvents source, links in Harbor's payload). It returns
// the body and the headers that go with it.
func Encode(format string, ev *Event, source string) ([]byte, http.Header, error) {
	h := http.Header{}
	switch format {
	case FormatCloudEvents, "":
		body, err := json.Marshal(struct {
			SpecVersion     string    `json:"specversion"`
			ID              string    `json:"id"`
			Source          string    `json:"source"`
			Type            string    `json:"type"`
			Subject         string    `json:"subject,omitempty"`
			Time            time.Time `json:"time"`
			DataContentType string    `json:"datacontenttype"`
			Sequence        string    `json:"sequence"`
			Data            eventData `json:"data"`
		}{"1.0", ev.ID, source, CloudEventsType + string(ev.Type), subject(ev), ev.Time.UTC(), mediaJSON,
			strconv.FormatInt(ev.Sequence, 10), dataOf(ev)})
		h.Set("Content-Type", mediaCloudEvents)
		return body, h, err
	case FormatCloudEventsBinary:
		body, err := json.Marshal(dataOf(ev))
		h.Set("Content-Type", mediaJSON)
		h.Set("ce-specversion", "1.0")
		h.Set("ce-id", ev.ID)
		h.Set("ce-source", source)
		h.Set("ce-type", CloudEventsType+string(ev.Type))
		if s := subject(ev); s != "" {
			h.Set("ce-subject", s)
		}
		h.Set("ce-time", ev.Time.UTC().Format(time.RFC3339Nano))
		h.Set("ce-sequence", strconv.FormatInt(ev.Sequence, 10))
		return body, h, err
	case FormatHarbor:
		body, err := harborPayload(ev, source)
		h.Set("Content-Type", mediaJSON)
		return body, h, err
	case FormatDistribution:
		body, err := distributionEnvelope(ev, source)
		h.Set("Content-Type", mediaDistribution)
		return body, h, err
	case FormatSlack:
		body, err := json.Marshal(map[string]string{"text": slackText(ev)})
		h.Set("Content-Type", mediaJSON)
		return body, h, err
	}
	return nil, nil, fmt.Errorf("%w: unknown format %q", ErrInvalid, format)
}

// hostOf is the host (and port) of the external URL, for image references.
func hostOf(source string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(source, "https://"), "http://")
	host, _, _ := strings.Cut(s, "/")
	return host
}

// harborTypes maps event types to Harbor's (src/pkg/notifier/event).
var harborTypes = map[Type]string{
	ManifestPushed: "PUSH_ARTIFACT", ManifestPulled: "PULL_ARTIFACT", ManifestDeleted: "DELETE_ARTIFACT",
	TagDeleted: "DELETE_ARTIFACT", RepositoryDeleted: "DELETE_ARTIFACT", QuotaWarning: "QUOTA_WARNING",
	QuotaExceeded: "QUOTA_EXCEED", RetentionFinished: "TAG_RETENTION",
}

// Harbor's webhook payload, field for field (src/pkg/notifier/model).
type harborResource struct {
	Digest      string `json:"digest,omitempty"`
	Tag         string `json:"tag"`
	ResourceURL string `json:"resource_url,omitempty"`
}

type harborRepository struct {
	DateCreated  int64  `json:"date_created,omitempty"`
	Name         string `json:"name"`
	Namespace    string `json:"namespace"`
	RepoFullName string `json:"repo_full_name"`
	RepoType     string `json:"repo_type"`
}

type harborRetention struct {
	Total          int    `json:"total"`
	Retained       int    `json:"retained"`
	HarborHostname string `json:"harbor_hostname,omitempty"`
	ProjectName    string `json:"project_name,omitempty"`
	Status         string `json:"result,omitempty"`
}

type harborEventData struct {
	Resources  []harborResource  `json:"resources,omitempty"`
	Repository *harborRepository `json:"repository,omitempty"`
	Retention  *harborRetention  `json:"retention,omitempty"`
	Custom     map[string]string `json:"custom_attributes,omitempty"`
}

type harborPayloadJSON struct {
	Type      string           `json:"type"`
	OccurAt   int64            `json:"occur_at"`
	Operator  string           `json:"operator"`
	EventData *harborEventData `json:"event_data,omitempty"`
}

func harborPayload(ev *Event, source string) ([]byte, error) {
	typ, ok := harborTypes[ev.Type]
	if !ok {
		return nil, errUnrepresentable
	}
	p := harborPayloadJSON{Type: typ, OccurAt: ev.Time.Unix(), Operator: ev.Actor, EventData: &harborEventData{}}
	d := p.EventData
	host := hostOf(source)
	if ev.Repository != "" {
		_, name, _ := strings.Cut(ev.Repository, "/")
		d.Repository = &harborRepository{Name: name, Namespace: ev.Project, RepoFullName: ev.Repository, RepoType: "private"}
		tags := ev.Tags
		if len(tags) == 0 {
			tags = []string{""}
		}
		for _, tag := range tags {
			r := harborResource{Digest: ev.Digest.String(), Tag: tag}
			if tag != "" {
				r.ResourceURL = host + "/" + ev.Repository + ":" + tag
			} else if ev.Digest != "" {
				r.ResourceURL = host + "/" + ev.Repository + "@" + ev.Digest.String()
			}
			d.Resources = append(d.Resources, r)
		}
	}
	switch ev.Type {
	case RetentionFinished:
		r := &harborRetention{HarborHostname: host, ProjectName: ev.Project, Status: "SUCCESS"}
		if v, ok := ev.Data["deleted"].(float64); ok {
			r.Total = int(v)
		}
		if v, ok := ev.Data["retained"].(float64); ok {
			r.Retained = int(v)
			r.Total += int(v)
		}
		d.Retention = r
	case QuotaWarning, QuotaExceeded:
		d.Custom = map[string]string{}
		for k, v := range ev.Data {
			d.Custom[k] = fmt.Sprint(v)
		}
	}
	return json.Marshal(p)
}

// Distribution's notification envelope (notifications/event.go).
type distributionEvent struct {
	ID        string    `json:"id,omitempty"`
	Timestamp time.Time `json:"timestamp,omitempty"`
	Action    string    `json:"action,omitempty"`
	Target    struct {
		MediaType  string `json:"mediaType,omitempty"`
		Digest     string `json:"digest,omitempty"`
		Repository string `json:"repository,omitempty"`
		URL        string `json:"url,omitempty"`
		Tag        string `json:"tag,omitempty"`
	} `json:"target,omitempty"`
	Request struct {
		ID        string `json:"id"`
		Addr      string `json:"addr,omitempty"`
		Host      string `json:"host,omitempty"`
		Method    string `json:"method"`
		UserAgent string `json:"useragent"`
	} `json:"request,omitempty"`
	Actor struct {
		Name string `json:"name,omitempty"`
	} `json:"actor,omitempty"`
	Source struct {
		Addr       string `json:"addr,omitempty"`
		InstanceID string `json:"instanceID,omitempty"`
	} `json:"source,omitempty"`
}

var distributionActions = map[Type]string{
	ManifestPushed: "push", ManifestPulled: "pull", ManifestDeleted: "delete", TagDeleted: "delete", RepositoryDeleted: "delete",
}

func distributionEnvelope(ev *Event, source string) ([]byte, error) {
	action, ok := distributionActions[ev.Type]
	if !ok {
		return nil, errUnrepresentable
	}
	var e distributionEvent
	e.ID, e.Timestamp, e.Action = ev.ID, ev.Time.UTC(), action
	e.Target.MediaType, e.Target.Digest, e.Target.Repository = ev.MediaType, ev.Digest.String(), ev.Repository
	if len(ev.Tags) > 0 {
		e.Target.Tag = ev.Tags[0]
	}
	if ev.Digest != "" && strings.HasPrefix(source, "http") {
		e.Target.URL = strings.TrimSuffix(source, "/") + "/v2/" + ev.Repository + "/manifests/" + ev.Digest.String()
	}
	e.Request.Method = map[string]string{"push": http.MethodPut, "pull": http.MethodGet, "delete": http.MethodDelete}[action]
	e.Actor.Name = ev.Actor
	e.Source.Addr = hostOf(source)
	return json.Marshal(struct {
		Events []distributionEvent `json:"events,omitempty"`
	}{[]distributionEvent{e}})
}

// slackText is a one-line message in Slack's mrkdwn.
func slackText(ev *Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "*%s*", ev.Type)
	if ev.Repository != "" {
		fmt.Fprintf(&b, " `%s", ev.Repository)
		if len(ev.Tags) > 0 {
			fmt.Fprintf(&b, ":%s", strings.Join(ev.Tags, ","))
		}
		b.WriteString("`")
	}
	if _, hex, ok := strings.Cut(ev.Digest.String(), ":"); ok {
		fmt.Fprintf(&b, " (%s)", hex[:min(12, len(hex))])
	}
	if ev.Project != "" && ev.Repository == "" {
		fmt.Fprintf(&b, " project `%s`", ev.Project)
	}
	if ev.Actor != "" {
		fmt.Fprintf(&b, " by %s", ev.Actor)
	}
	if len(ev.Data) > 0 {
		d, _ := json.Marshal(ev.Data)
		fmt.Fprintf(&b, " %s", d)
	}
	return b.String()
}

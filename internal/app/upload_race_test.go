package app_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/app/apptest"
)

// TestPostThenPutUnderLoad: an upload session is usable by the very next
// request, with several clients pushing at once.
func TestPostThenPutUnderLoad(t *testing.T) {
	s := apptest.Start(t, nil)
	client := &http.Client{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				repo := fmt.Sprintf("load/app%d", w)
				body := []byte(fmt.Sprintf("blob %d %d", w, i))
				dgst := digest.FromBytes(body)
				head, err := client.Head(s.URL + "/v2/" + repo + "/blobs/" + dgst.String())
				if err != nil || head.StatusCode != 404 {
					t.Errorf("HEAD: %v %v", head, err)
					return
				}
				head.Body.Close()
				resp, err := client.Post(s.URL+"/v2/"+repo+"/blobs/uploads/", "", nil)
				if err != nil || resp.StatusCode != 202 {
					t.Errorf("POST: %v %v", resp, err)
					return
				}
				resp.Body.Close()
				req, _ := http.NewRequest("PUT", s.URL+resp.Header.Get("Location")+"?digest="+dgst.String(), bytes.NewReader(body))
				resp, err = client.Do(req)
				if err != nil || resp.StatusCode != 201 {
					t.Errorf("PUT after POST: %v %v", resp.Status, err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
}

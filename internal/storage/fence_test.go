package storage_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence keeps the cloud SDKs inside their storage drivers:
// the core packages build without any of them.
func TestDependencyFence(t *testing.T) {
	core := []string{
		"github.com/berth-registry/berth/internal/oci",
		"github.com/berth-registry/berth/internal/api/v2",
		"github.com/berth-registry/berth/internal/registry",
		"github.com/berth-registry/berth/internal/meta",
		"github.com/berth-registry/berth/internal/storage",
	}
	sdks := []string{
		"github.com/aws/",
		"github.com/Azure/azure-sdk-for-go/", // not github.com/Azure/go-ntlmssp: go-ldap's NTLM
		"github.com/AzureAD/",
		"cloud.google.com/go/",
		"google.golang.org/api/",
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command on PATH")
	}
	for _, pkg := range core {
		out, err := exec.Command(gobin, "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
		}
		for _, dep := range strings.Fields(string(out)) {
			for _, sdk := range sdks {
				if strings.HasPrefix(dep, sdk) {
					t.Errorf("%s imports %s: cloud SDKs belong in their storage drivers only", pkg, dep)
				}
			}
		}
	}
}

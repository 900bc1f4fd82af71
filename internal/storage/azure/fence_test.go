package azure_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyFence keeps the Azure SDK inside the storage drivers: the
// core packages must build without it.
func TestDependencyFence(t *testing.T) {
	core := []string{
		"github.com/berth-registry/berth/internal/oci",
		"github.com/berth-registry/berth/internal/api/v2",
		"github.com/berth-registry/berth/internal/registry",
		"github.com/berth-registry/berth/internal/meta",
		"github.com/berth-registry/berth/internal/storage",
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
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
			// github.com/Azure/go-ntlmssp is not the SDK: go-ldap's NTLM.
			if strings.HasPrefix(dep, "github.com/Azure/azure-sdk-for-go/") || strings.HasPrefix(dep, "github.com/AzureAD/") {
				t.Errorf("%s imports %s: cloud SDKs belong in storage drivers only", pkg, dep)
			}
		}
	}
}

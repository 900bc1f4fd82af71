package config

import (
	"strings"
	"testing"
)

func TestAzureStorage(t *testing.T) {
	good := "storage:\n  driver: azure\n  azure:\n    account_name: acct\n    container: blobs\n"
	c, err := Load(write(t, good), []string{"BERTH_STORAGE_AZURE_ACCOUNT_KEY=a2V5", "BERTH_STORAGE_AZURE_BLOCK_SIZE=8MiB"}, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Storage.Azure; a.AccountName != "acct" || a.Container != "blobs" || a.AccountKey != "a2V5" || a.BlockSize != 8<<20 {
		t.Fatalf("azure = %+v", a)
	}
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"no container", "storage:\n  driver: azure\n  azure:\n    account_name: a\n", nil, "storage.azure.container"},
		{"no account", "storage:\n  driver: azure\n  azure:\n    container: c\n", nil, "storage.azure.account_name"},
		{"key and SAS", good, []string{"BERTH_STORAGE_AZURE_ACCOUNT_KEY=k", "BERTH_STORAGE_AZURE_SAS_TOKEN=sv=x"}, "storage.azure.sas_token"},
		{"tiny blocks", good, []string{"BERTH_STORAGE_AZURE_BLOCK_SIZE=64KiB"}, "storage.azure.block_size"},
		{"unknown key", good + "    key: x\n", nil, "key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.file), tc.env, Overrides{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// An endpoint alone (Azurite, a sovereign cloud) names the account.
	if _, err := Load(write(t, "storage:\n  driver: azure\n  azure:\n    endpoint: http://127.0.0.1:10000/dev\n    container: c\n"), nil, Overrides{}); err != nil {
		t.Fatal(err)
	}
}

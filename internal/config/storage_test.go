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

func TestGCSStorage(t *testing.T) {
	good := "storage:\n  driver: gcs\n  gcs:\n    bucket: blobs\n"
	c, err := Load(write(t, good), []string{"BERTH_STORAGE_GCS_CREDENTIALS_FILE=/etc/berth/sa.json", "BERTH_STORAGE_GCS_CHUNK_SIZE=8MiB",
		"BERTH_STORAGE_GCS_PREFIX=reg", "BERTH_STORAGE_GCS_ENDPOINT=http://127.0.0.1:4443", "BERTH_STORAGE_GCS_ANONYMOUS=true"}, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Storage.GCS; g.Bucket != "blobs" || g.CredentialsFile != "/etc/berth/sa.json" || g.ChunkSize != 8<<20 || g.Prefix != "reg" ||
		g.Endpoint != "http://127.0.0.1:4443" || !g.Anonymous {
		t.Fatalf("gcs = %+v", g)
	}
	tests := []struct {
		name, file string
		env        []string
		want       string
	}{
		{"no bucket", "storage:\n  driver: gcs\n  gcs:\n    prefix: a\n", nil, "storage.gcs.bucket"},
		{"odd chunks", good, []string{"BERTH_STORAGE_GCS_CHUNK_SIZE=100KiB"}, "storage.gcs.chunk_size"},
		{"huge chunks", good, []string{"BERTH_STORAGE_GCS_CHUNK_SIZE=2GiB"}, "storage.gcs.chunk_size"},
		{"bad endpoint", good, []string{"BERTH_STORAGE_GCS_ENDPOINT=fake-gcs:4443"}, "storage.gcs.endpoint"},
		{"anonymous without endpoint", good, []string{"BERTH_STORAGE_GCS_ANONYMOUS=true"}, "storage.gcs.anonymous"},
		{"unknown key", good + "    project: x\n", nil, "project"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(write(t, tc.file), tc.env, Overrides{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

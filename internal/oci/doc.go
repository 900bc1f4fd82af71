// Package oci holds the vocabulary of the OCI Distribution Spec: the grammar
// of repository names, tags and digests, the media types Berth understands,
// the catalog of error codes with their HTTP statuses, and the parsing of the
// Range and Content-Range headers used by blob transfers.
//
// It has no dependencies on the rest of Berth so that every layer can use it.
package oci

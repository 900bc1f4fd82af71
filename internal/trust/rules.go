package trust

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"

	"github.com/berth-registry/berth/internal/meta"
	"github.com/berth-registry/berth/internal/policy"
)

// Rule is a signature policy rule as the API reads and writes it. A
// signature counts when it satisfies any of the requirements (a listed
// cosign key, a keyless identity, the notation trust policy); the rule is
// met when MinSignatures distinct signers signed the manifest.
type Rule struct {
	ID           int64  `json:"id"`
	Repositories string `json:"repositories"`
	Mode         string `json:"mode"`
	// CosignKeys names cosign-key trust material of the project.
	CosignKeys []string `json:"cosign_keys,omitempty"`
	// Keyless lists the certificate identities accepted from Sigstore
	// bundles, each checked against a trusted-root material.
	Keyless  []Keyless `json:"keyless,omitempty"`
	Notation *Notation `json:"notation,omitempty"`
	// MinSignatures is how many distinct signers must have signed; 0 is 1.
	MinSignatures int `json:"min_signatures,omitempty"`
	// IndexCoversChildren: a manifest an index of the repository lists is
	// accepted when that index meets the rule. Default true.
	IndexCoversChildren *bool `json:"index_covers_children,omitempty"`
	// ExemptRoles are project roles (admin, maintainer, developer, guest)
	// whose members may pull what the rule refuses; system administrators
	// count as admin. ExemptRobots names robot accounts.
	ExemptRoles  []string `json:"exempt_roles,omitempty"`
	ExemptRobots []string `json:"exempt_robots,omitempty"`

	pattern policy.Pattern
}

// Keyless is a keyless (Fulcio certificate) identity: the certificate's
// subject alternative name and OIDC issuer, each exact or a regular
// expression, and the trusted root that anchors it.
type Keyless struct {
	TrustedRoot   string `json:"trusted_root"`
	Identity      string `json:"identity,omitempty"`
	IdentityRegex string `json:"identity_regex,omitempty"`
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegex   string `json:"issuer_regex,omitempty"`
}

// Notation is a notation requirement: a trust policy document (notation's
// trustpolicy.json, version 1.0) whose trust stores name notation-*
// material, the registry host its registryScopes use, and whether
// revocation is checked (off by default: air-gapped sites have no OCSP).
type Notation struct {
	TrustPolicy json.RawMessage `json:"trust_policy"`
	Registry    string          `json:"registry,omitempty"`
	Revocation  bool            `json:"revocation,omitempty"`

	doc *trustpolicy.Document
}

// DefaultNotationRegistry is the registry host of artifact references
// given to notation when a rule names none.
const DefaultNotationRegistry = "berth.local"

// spec is what is stored in meta.SigningRule.Spec: the rule without the
// fields that have their own columns.
func (r Rule) spec() (string, error) {
	c := r
	c.ID, c.Repositories, c.Mode = 0, "", ""
	b, err := json.Marshal(c)
	return string(b), err
}

// ruleFrom decodes a stored rule.
func ruleFrom(m meta.SigningRule) (Rule, error) {
	var r Rule
	if err := json.Unmarshal([]byte(m.Spec), &r); err != nil {
		return r, fmt.Errorf("%w: rule %d: %v", ErrInvalid, m.ID, err)
	}
	r.ID, r.Repositories, r.Mode = m.ID, m.Repositories, m.Mode
	return r, r.validate()
}

// indexCovers reports whether a signed index covers its children.
func (r *Rule) indexCovers() bool { return r.IndexCoversChildren == nil || *r.IndexCoversChildren }

func (r *Rule) minSignatures() int { return max(1, r.MinSignatures) }

var roles = []string{"admin", "maintainer", "developer", "guest"}

// validate checks a rule and prepares its pattern and trust policy.
func (r *Rule) validate() error {
	var err error
	if r.pattern, err = policy.ParsePattern(r.Repositories); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if r.Mode != ModeEnforce && r.Mode != ModeAudit {
		return fmt.Errorf("%w: mode %q is neither %q nor %q", ErrInvalid, r.Mode, ModeEnforce, ModeAudit)
	}
	if len(r.CosignKeys) == 0 && len(r.Keyless) == 0 && r.Notation == nil {
		return fmt.Errorf("%w: a rule needs cosign_keys, keyless or notation", ErrInvalid)
	}
	if r.MinSignatures < 0 || r.MinSignatures > 16 {
		return fmt.Errorf("%w: min_signatures must be between 1 and 16", ErrInvalid)
	}
	for _, k := range r.Keyless {
		if k.TrustedRoot == "" {
			return fmt.Errorf("%w: a keyless identity needs trusted_root", ErrInvalid)
		}
		if (k.Identity == "") == (k.IdentityRegex == "") || (k.Issuer == "") == (k.IssuerRegex == "") {
			return fmt.Errorf("%w: a keyless identity needs identity or identity_regex, and issuer or issuer_regex", ErrInvalid)
		}
		for _, re := range []string{k.IdentityRegex, k.IssuerRegex} {
			if _, err := regexp.Compile(re); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		}
	}
	if n := r.Notation; n != nil {
		var doc trustpolicy.Document
		if err := json.Unmarshal(n.TrustPolicy, &doc); err != nil {
			return fmt.Errorf("%w: notation trust_policy: %v", ErrInvalid, err)
		}
		if err := doc.Validate(); err != nil {
			return fmt.Errorf("%w: notation trust_policy: %v", ErrInvalid, err)
		}
		n.doc = &doc
	}
	for _, role := range r.ExemptRoles {
		if !slices.Contains(roles, role) {
			return fmt.Errorf("%w: exempt role %q is none of %v", ErrInvalid, role, roles)
		}
	}
	return nil
}

package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// minPassword is the shortest password Berth accepts for its users.
const minPassword = 8

// HashPassword returns the bcrypt hash of a password, with work factor
// cost (auth.bcrypt_cost).
func HashPassword(pw string, cost int) (string, error) {
	if len(pw) < minPassword {
		return "", &FieldError{Field: "password", Msg: fmt.Sprintf("a password needs at least %d characters", minPassword)}
	}
	if len(pw) > 72 {
		return "", &FieldError{Field: "password", Msg: "a password may have at most 72 bytes (bcrypt)"}
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	return string(h), err
}

// dummyHashes are compared against when a user is unknown, so that
// answering "no such user" takes as long as "wrong password".
var dummyHashes sync.Map // cost -> []byte

// dummyCheck spends the time of a password check that fails.
func dummyCheck(pw string, cost int) {
	h, ok := dummyHashes.Load(cost)
	if !ok {
		b, err := bcrypt.GenerateFromPassword([]byte("berth-dummy-password"), cost)
		if err != nil {
			return
		}
		h, _ = dummyHashes.LoadOrStore(cost, b)
	}
	bcrypt.CompareHashAndPassword(h.([]byte), []byte(pw))
}

// checkBcrypt compares a password with a bcrypt hash (constant time in
// the password, as bcrypt is).
func checkBcrypt(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}

// randomHex returns n random bytes, hex encoded.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// hashSecret is how long random secrets (robot secrets, access tokens) are
// stored: SHA-256 is enough for 256 random bits, and fast to check.
func hashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// secretMatches compares a secret with a stored hash in constant time.
func secretMatches(secret, hash string) bool {
	return subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) == 1
}

// fingerprint is a short digest of a stored credential, put in refresh
// tokens: changing the password or secret changes it and so ends them.
func fingerprint(stored string) string {
	h := sha256.Sum256([]byte("berth-refresh\x00" + stored))
	return hex.EncodeToString(h[:8])
}

// Access tokens look like bpat_<id>_<secret>: the id finds the row, the
// whole string is hashed.
const patPrefix = "bpat_"

// newAccessToken returns a new token and its id.
func newAccessToken() (token, id string) {
	id = randomHex(8)
	return patPrefix + id + "_" + randomHex(24), id
}

// accessTokenID extracts the id of an access token, or "" if s is not one.
func accessTokenID(s string) string {
	rest, ok := strings.CutPrefix(s, patPrefix)
	if !ok {
		return ""
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 48 {
		return ""
	}
	return id
}

// ErrInvalid is a request the management operations refuse (bad name,
// short password, unknown role): a 400.
var ErrInvalid = errors.New("invalid request")

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

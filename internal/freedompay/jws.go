package freedompay

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// SignatureHeader carries the detached JWS on every Card API call.
const SignatureHeader = "X-JWS-Signature"

// joseHeader is a struct, not a map, because the documented test vector
// depends on this exact key order (a map would sort the keys).
type joseHeader struct {
	URI    string `json:"uri"`
	AuthID string `json:"auth_id"`
	Method string `json:"method"`
	Params string `json:"params"`
	Alg    string `json:"alg"`
}

var b64 = base64.RawURLEncoding

// Sign returns the detached HS512 JWS for body sent to uri: the JOSE header
// segment, an empty payload segment, and the signature. body must be the
// exact bytes that go on the wire.
func Sign(secret []byte, authID, uri string, body []byte) string {
	hdr, _ := json.Marshal(joseHeader{URI: uri, AuthID: authID, Method: "POST", Params: "", Alg: "HS512"})
	h := b64.EncodeToString(hdr)
	return h + ".." + b64.EncodeToString(mac(secret, h, body))
}

func mac(secret []byte, headerSeg string, body []byte) []byte {
	m := hmac.New(sha512.New, secret)
	m.Write([]byte(headerSeg))
	m.Write([]byte("."))
	m.Write([]byte(b64.EncodeToString(body)))
	return m.Sum(nil)
}

// Verified is what a server learns from a valid signature.
type Verified struct {
	AuthID string
	URI    string
}

// ErrBadSignature is returned by Verify for any malformed or forged signature.
var ErrBadSignature = errors.New("freedompay: bad signature")

// Verify checks a detached JWS against body. lookup maps an auth_id to its
// secret and reports false for unknown ids. The server side (the simulator)
// uses it; it recomputes the MAC over the received header segment, so header
// key order does not matter to it.
func Verify(sig string, body []byte, lookup func(authID string) ([]byte, bool)) (Verified, error) {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || parts[1] != "" {
		return Verified{}, ErrBadSignature
	}
	raw, err := b64.DecodeString(parts[0])
	if err != nil {
		return Verified{}, ErrBadSignature
	}
	var h joseHeader
	if err := json.Unmarshal(raw, &h); err != nil || h.Alg != "HS512" || h.Method != "POST" {
		return Verified{}, ErrBadSignature
	}
	secret, ok := lookup(h.AuthID)
	if !ok {
		return Verified{}, ErrBadSignature
	}
	got, err := b64.DecodeString(parts[2])
	if err != nil || !hmac.Equal(got, mac(secret, parts[0], body)) {
		return Verified{}, ErrBadSignature
	}
	return Verified{AuthID: h.AuthID, URI: h.URI}, nil
}

package fpsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// SignatureHeader carries the detached JWS on every Card API call
// (shared/freedompay-card-api.md §1: the prose and the worked example say
// X-JWS-Signature).
const SignatureHeader = "X-JWS-Signature"

// The verifier is written from the provider's documentation (§2), not taken
// from the client: if the client ever signs wrongly, the simulator must
// refuse it rather than agree with the same bug.

// hs512MACLen is the length of an HMAC-SHA512 tag; its base64url form
// without padding is 86 characters.
const hs512MACLen = sha512.Size

// errSignature is the cause of every refused signature; the wrapped message
// says what was wrong, for the simulator's debug log and the native reply.
var errSignature = errors.New("bad signature")

// joseFields is the JOSE header the docs define: uri, auth_id (a JSON
// string), method, params and alg. Extra fields (the legacy "typ") are
// ignored, like any JSON reader would.
type joseFields struct {
	URI    *string `json:"uri"`
	AuthID *string `json:"auth_id"`
	Method *string `json:"method"`
	Params *string `json:"params"`
	Alg    *string `json:"alg"`
}

// signer is who a valid signature says sent the call.
type signer struct {
	authID string
	uri    string
}

// verifyJWS checks a detached HS512 JWS (header ".." signature) over body,
// the exact bytes received. secretOf maps an auth_id to its secret. The MAC
// is recomputed over the header segment as received, so the header's key
// order is the signer's business.
func verifyJWS(sig string, body []byte, secretOf func(authID string) ([]byte, bool)) (signer, error) {
	parts := strings.Split(strings.TrimSpace(sig), ".")
	if len(parts) != 3 {
		return signer{}, fmt.Errorf("%w: want header..signature, got %d segments", errSignature, len(parts))
	}
	if parts[1] != "" {
		return signer{}, fmt.Errorf("%w: attached payload; the Card API wants a detached JWS", errSignature)
	}
	h, err := decodeJOSE(parts[0])
	if err != nil {
		return signer{}, err
	}
	secret, ok := secretOf(h.authID)
	if !ok {
		return signer{}, fmt.Errorf("%w: unknown auth_id %q", errSignature, h.authID)
	}
	got, err := base64.RawURLEncoding.Strict().DecodeString(parts[2])
	if err != nil || len(got) != hs512MACLen {
		return signer{}, fmt.Errorf("%w: signature segment is not a base64url HS512 MAC", errSignature)
	}
	if !hmac.Equal(got, hs512(secret, parts[0], body)) {
		return signer{}, fmt.Errorf("%w: MAC does not match the body", errSignature)
	}
	return h, nil
}

// decodeJOSE reads the header segment and checks the fields the docs fix:
// alg HS512, method POST, params empty, a non-empty auth_id and uri.
func decodeJOSE(seg string) (signer, error) {
	raw, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return signer{}, fmt.Errorf("%w: header segment is not base64url: %w", errSignature, err)
	}
	if err := exactKeys(raw); err != nil {
		return signer{}, err
	}
	var h joseFields
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&h); err != nil {
		return signer{}, fmt.Errorf("%w: header is not a JSON object of strings: %w", errSignature, err)
	}
	if dec.More() {
		return signer{}, fmt.Errorf("%w: trailing data after the header", errSignature)
	}
	switch {
	case h.Alg == nil || *h.Alg != "HS512":
		return signer{}, fmt.Errorf("%w: alg must be HS512", errSignature)
	case h.Method == nil || *h.Method != "POST":
		return signer{}, fmt.Errorf("%w: method must be POST", errSignature)
	case h.Params == nil || *h.Params != "":
		return signer{}, fmt.Errorf("%w: params must be an empty string", errSignature)
	case h.AuthID == nil || *h.AuthID == "":
		return signer{}, fmt.Errorf("%w: auth_id (a JSON string) is required", errSignature)
	case h.URI == nil || *h.URI == "":
		return signer{}, fmt.Errorf("%w: uri is required", errSignature)
	}
	return signer{authID: *h.AuthID, uri: *h.URI}, nil
}

// hs512 is HMAC-SHA512(secret, headerSeg "." b64url(body)): the JWS signing
// input with the payload the docs say is the request body.
func hs512(secret []byte, headerSeg string, body []byte) []byte {
	m := hmac.New(sha512.New, secret)
	m.Write([]byte(headerSeg))
	m.Write([]byte{'.'})
	m.Write([]byte(base64.RawURLEncoding.EncodeToString(body)))
	return m.Sum(nil)
}

// joseKeys are the header fields the docs define, spelled as they do.
var joseKeys = map[string]bool{"uri": true, "auth_id": true, "method": true, "params": true, "alg": true, "typ": true}

// exactKeys refuses what Go's JSON decoding would quietly accept: a key in
// another case ("ALG"), a key given twice (the last would win), or one the
// docs do not define. A provider checks the header as written.
func exactKeys(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("%w: header is not a JSON object", errSignature)
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: header: %w", errSignature, err)
		}
		k, _ := t.(string)
		switch {
		case !joseKeys[k]:
			return fmt.Errorf("%w: header key %q is not one the docs define", errSignature, k)
		case seen[k]:
			return fmt.Errorf("%w: header key %q appears twice", errSignature, k)
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("%w: header value of %q: %w", errSignature, k, err)
		}
	}
	return nil
}

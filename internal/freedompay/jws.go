package freedompay

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
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

package fpsim

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"go/build"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The documented vector (shared/freedompay-card-api.md §2, reproduced byte
// for byte from the provider's docs).
const (
	vectorHeaderJSON = `{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"HS512"}`
	vectorBody       = `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca"}`
	vectorHeaderSeg  = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvcmVxdWVzdC9zdGF0dXMiLCJhdXRoX2lkIjoiMTIzNDU2IiwibWV0aG9kIjoiUE9TVCIsInBhcmFtcyI6IiIsImFsZyI6IkhTNTEyIn0"
	vectorBodySeg    = "eyJyZXF1ZXN0X2lkIjoiODI4Y2Y3MWQtYTQ0Ny00YTY3LWExNDktYzFkZjhiYzE5N2NhIn0"
	vectorMACHex     = "7f5b10a1e2295ff66339aca443349eca5bef29a56b11057880d33600215b10c9050d457d664e563b5c9018459ecfebe740c547a1d2c10d51328795e6dbedcc8d"
	vectorSig        = "f1sQoeIpX_ZjOaykQzSeylvvKaVrEQV4gNM2ACFbEMkFDUV9Zk5WO1yQGEWez-vnQMVHodLBDVEyh5Xm2-3MjQ"
	vectorDetached   = vectorHeaderSeg + ".." + vectorSig
)

func vectorSecrets(id string) ([]byte, bool) {
	if id == "123456" {
		return []byte("secret"), true
	}
	return nil, false
}

func TestJWSDocumentedVector(t *testing.T) {
	enc := base64.RawURLEncoding
	if got := enc.EncodeToString([]byte(vectorHeaderJSON)); got != vectorHeaderSeg {
		t.Fatalf("header segment %s, want %s", got, vectorHeaderSeg)
	}
	if got := enc.EncodeToString([]byte(vectorBody)); got != vectorBodySeg {
		t.Fatalf("body segment %s, want %s", got, vectorBodySeg)
	}
	mac := hs512([]byte("secret"), vectorHeaderSeg, []byte(vectorBody))
	if got := hex.EncodeToString(mac); got != vectorMACHex {
		t.Fatalf("MAC %s, want %s", got, vectorMACHex)
	}
	if got := enc.EncodeToString(mac); got != vectorSig {
		t.Fatalf("signature %s, want %s", got, vectorSig)
	}
	who, err := verifyJWS(vectorDetached, []byte(vectorBody), vectorSecrets)
	if err != nil {
		t.Fatalf("documented vector refused: %v", err)
	}
	if who.authID != "123456" || who.uri != PathStatus {
		t.Fatalf("signer = %+v", who)
	}
	// The tests' own signer produces the same string, so every signed call
	// in these tests is signed the documented way.
	if got := sign("secret", "123456", PathStatus, []byte(vectorBody)); got != vectorDetached {
		t.Fatalf("test signer:\n got %s\nwant %s", got, vectorDetached)
	}
}

func TestJWSRefuses(t *testing.T) {
	enc := base64.RawURLEncoding
	header := func(json string) string { return enc.EncodeToString([]byte(json)) }
	signed := func(hdrJSON string) string { // a correct MAC over an arbitrary header
		h := header(hdrJSON)
		return h + ".." + enc.EncodeToString(hs512([]byte("secret"), h, []byte(vectorBody)))
	}
	cases := []struct {
		name, sig, body string
	}{
		{"tampered body", vectorDetached, `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197cb"}`},
		{"body with a trailing newline", vectorDetached, vectorBody + "\n"},
		{"wrong secret", sign("not-the-secret", "123456", PathStatus, []byte(vectorBody)), vectorBody},
		{"unknown auth_id", sign("secret", "999999", PathStatus, []byte(vectorBody)), vectorBody},
		{"attached form", vectorHeaderSeg + "." + vectorBodySeg + "." + vectorSig, vectorBody},
		{"empty", "", vectorBody},
		{"garbage", "not a jws", vectorBody},
		{"two segments", vectorHeaderSeg + "." + vectorSig, vectorBody},
		{"four segments", vectorDetached + ".x", vectorBody},
		{"header not base64url", "!!!.." + vectorSig, vectorBody},
		{"header not JSON", header("hello") + ".." + vectorSig, vectorBody},
		{"header padded", vectorHeaderSeg + "=.." + vectorSig, vectorBody},
		{"signature padded", vectorDetached + "==", vectorBody},
		{"signature truncated", vectorDetached[:len(vectorDetached)-2], vectorBody},
		{"signature standard base64", vectorHeaderSeg + ".." + base64.RawStdEncoding.EncodeToString(hs512([]byte("secret"), vectorHeaderSeg, []byte(vectorBody))), vectorBody},
		{"alg HS256", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"HS256"}`), vectorBody},
		{"alg none", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"none"}`), vectorBody},
		{"method GET", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"GET","params":"","alg":"HS512"}`), vectorBody},
		{"params set", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"a=1","alg":"HS512"}`), vectorBody},
		{"params missing", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","alg":"HS512"}`), vectorBody},
		{"auth_id a number", signed(`{"uri":"/v5/card-api/request/status","auth_id":123456,"method":"POST","params":"","alg":"HS512"}`), vectorBody},
		{"no uri", signed(`{"auth_id":"123456","method":"POST","params":"","alg":"HS512"}`), vectorBody},
		{"keys in upper case", signed(`{"URI":"/v5/card-api/request/status","AUTH_ID":"123456","METHOD":"POST","PARAMS":"","ALG":"HS512"}`), vectorBody},
		{"alg given twice", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"none","alg":"HS512"}`), vectorBody},
		{"an unknown key", signed(`{"uri":"/v5/card-api/request/status","auth_id":"123456","method":"POST","params":"","alg":"HS512","kid":"x"}`), vectorBody},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if who, err := verifyJWS(c.sig, []byte(c.body), vectorSecrets); !errors.Is(err, errSignature) {
				t.Fatalf("verifyJWS = %+v, %v; want a refusal", who, err)
			}
		})
	}
	// Key order is the signer's business: the MAC is over the header as sent.
	if _, err := verifyJWS(signed(`{"alg":"HS512","auth_id":"123456","method":"POST","params":"","uri":"/x","typ":"JWT"}`), []byte(vectorBody), vectorSecrets); err != nil {
		t.Fatalf("reordered header with typ: %v", err)
	}
}

// Over HTTP the signature must also be made for the path it is sent to.
func TestSignatureMustMatchThePath(t *testing.T) {
	f := newFixture(t, nil)
	body := refundJSON("sig", "txn-1", "")
	cases := map[string]request{
		"unsigned":                 {path: PathRefund, body: body, sig: ptr("")},
		"signed for status path":   {path: PathRefund, body: body, uri: PathStatus},
		"signed with other secret": {path: PathRefund, body: body, sig: ptr(sign("nope", testAuthID, PathRefund, []byte(body)))},
		"signed by unknown id":     {path: PathRefund, body: body, sig: ptr(sign(testSecret, otherAuthID, PathRefund, []byte(body)))},
	}
	for name, rq := range cases {
		f.do(rq).wantError(t, http.StatusUnauthorized, "INVALID_SIGNATURE")
		if len(f.sim.Ledger().Requests) != 0 {
			t.Fatalf("%s: a refused call was recorded", name)
		}
	}
	if r := f.do(request{path: PathRefund, body: body}); r.Status != "ok" {
		t.Fatalf("same body correctly signed: %s", r)
	}
}

// The simulator must not verify with the client's code: a signing bug
// there would otherwise agree with itself.
func TestNoImportOfTheClient(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range slices.Concat(pkg.Imports, pkg.TestImports, pkg.XTestImports) {
		if strings.HasSuffix(imp, "/internal/freedompay") {
			t.Fatalf("fpsim imports %s", imp)
		}
	}
}

package freedompay

import (
	"encoding/base64"
	"testing"
)

// The vector from the Card API overview, reproduced byte for byte.
const (
	vectorBody   = `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca"}`
	vectorHeader = "eyJ1cmkiOiIvdjUvY2FyZC1hcGkvcmVxdWVzdC9zdGF0dXMiLCJhdXRoX2lkIjoiMTIzNDU2IiwibWV0aG9kIjoiUE9TVCIsInBhcmFtcyI6IiIsImFsZyI6IkhTNTEyIn0"
	vectorSig    = "f1sQoeIpX_ZjOaykQzSeylvvKaVrEQV4gNM2ACFbEMkFDUV9Zk5WO1yQGEWez-vnQMVHodLBDVEyh5Xm2-3MjQ"
	vectorMACHex = "7f5b10a1e2295ff66339aca443349eca5bef29a56b11057880d33600215b10c9050d457d664e563b5c9018459ecfebe740c547a1d2c10d51328795e6dbedcc8d"
)

func TestSignReproducesDocumentedVector(t *testing.T) {
	got := Sign([]byte("secret"), "123456", PathStatus, []byte(vectorBody))
	want := vectorHeader + ".." + vectorSig
	if got != want {
		t.Fatalf("detached JWS mismatch\n got %s\nwant %s", got, want)
	}
	if b := base64.RawURLEncoding.EncodeToString([]byte(vectorBody)); b != "eyJyZXF1ZXN0X2lkIjoiODI4Y2Y3MWQtYTQ0Ny00YTY3LWExNDktYzFkZjhiYzE5N2NhIn0" {
		t.Fatalf("payload segment %s", b)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(vectorSig)
	if len(vectorSig) != 86 || len(raw) != 64 {
		t.Fatalf("signature should be 86 chars / 64 bytes, got %d / %d", len(vectorSig), len(raw))
	}
	if hex := hexString(raw); hex != vectorMACHex {
		t.Fatalf("mac hex %s", hex)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

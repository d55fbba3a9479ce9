package merchants_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/merchants"
)

const (
	shopSecret     = "shop-secret-7d41c0"
	shopCallback   = "shop-callback-secret-90be"
	outletSecret   = "outlet-secret-22af1d"
	outletCallback = "outlet-callback-secret-5c3e"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// writeFiles writes name → content into a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadResolvesSecretsFromEnvAndFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"shop-callback.secret": shopCallback + "\n",
		"outlet.secret":        "  " + outletSecret + "\n",
	})
	yaml := fmt.Sprintf(`merchants:
  shop:
    auth_id: "111"
    secret_env: SHOP_SECRET
    callback_secret_file: shop-callback.secret
    rate_limit: 7
  outlet:
    auth_id: "222"
    secret_file: %s
    callback_secret_env: OUTLET_CALLBACK
`, filepath.Join(dir, "outlet.secret"))
	path := filepath.Join(dir, "merchants.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	set, err := merchants.Load(path, env(map[string]string{"SHOP_SECRET": shopSecret, "OUTLET_CALLBACK": outletCallback}))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != "outlet,shop" {
		t.Fatalf("names %s, want outlet,shop", got)
	}
	shop, _ := set.Get("shop")
	outlet, _ := set.Get("outlet")
	if shop.AuthID != "111" || shop.Secret != shopSecret || shop.CallbackSecret != shopCallback || shop.RateLimit != 7 {
		t.Errorf("shop resolved wrong: auth_id %q, rate %d, secrets match: %v %v", shop.AuthID, shop.RateLimit,
			shop.Secret == shopSecret, shop.CallbackSecret == shopCallback)
	}
	if outlet.AuthID != "222" || outlet.Secret != outletSecret || outlet.CallbackSecret != outletCallback {
		t.Errorf("outlet resolved wrong: auth_id %q, secrets match: %v %v", outlet.AuthID,
			outlet.Secret == outletSecret, outlet.CallbackSecret == outletCallback)
	}
	if got := set.RateLimit("shop", 50); got != 7 {
		t.Errorf("shop rate limit %d, want its own 7", got)
	}
	if got := set.RateLimit("outlet", 50); got != 50 {
		t.Errorf("outlet rate limit %d, want the default 50", got)
	}
	if cb, ok := set.CallbackSecret("shop"); !ok || string(cb) != shopCallback {
		t.Error("shop's callback secret not returned")
	}
	if _, ok := set.CallbackSecret("nobody"); ok {
		t.Error("an unknown merchant has a callback secret")
	}
	for _, form := range []string{fmt.Sprintf("%v", shop), fmt.Sprintf("%+v", shop), fmt.Sprintf("%#v", shop), mustJSON(t, shop),
		fmt.Sprintf("%v", set), fmt.Sprintf("%+v", *set), fmt.Sprintf("%#v", set)} {
		if strings.Contains(form, shopSecret) || strings.Contains(form, shopCallback) {
			t.Errorf("a formatted Merchant shows a secret: %s", form)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLoadRefusesBadFiles(t *testing.T) {
	const pasted = "pasted-secret-b8e2"
	vars := env(map[string]string{"SHOP_SECRET": shopSecret, "EMPTY": ""})
	for _, tc := range []struct{ name, yaml, want string }{
		{"secret inline", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret: " + pasted + "\n", "field secret not found"},
		{"secret pasted into secret_env", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: \"" + pasted + "\"\n", "must name an environment variable"},
		{"typo", "merchants:\n  shop:\n    auth_id: \"1\"\n    secert_env: SHOP_SECRET\n", "field secert_env not found"},
		{"no secret", "merchants:\n  shop:\n    auth_id: \"1\"\n", "set secret_env or secret_file"},
		{"both", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: SHOP_SECRET\n    secret_file: x\n", "not both"},
		{"unset env", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: NOT_SET\n", "NOT_SET is empty or not set"},
		{"empty env", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: EMPTY\n", "EMPTY is empty"},
		{"missing file", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_file: nope.secret\n", "nope.secret"},
		{"callback both", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: SHOP_SECRET\n    callback_secret_env: SHOP_SECRET\n    callback_secret_file: x\n", "callback_secret_env or callback_secret_file, not both"},
		{"no auth_id", "merchants:\n  shop:\n    secret_env: SHOP_SECRET\n", "auth_id is required"},
		{"bad name", "merchants:\n  Shop One:\n    auth_id: \"1\"\n    secret_env: SHOP_SECRET\n", "must be 1-32 characters"},
		{"negative rate", "merchants:\n  shop:\n    auth_id: \"1\"\n    secret_env: SHOP_SECRET\n    rate_limit: -1\n", "rate_limit"},
		{"empty", "merchants: {}\n", "no merchants"},
		{"not a map", "merchants:\n  - shop\n", "cannot unmarshal"},
	} {
		dir := writeFiles(t, map[string]string{"m.yaml": tc.yaml})
		_, err := merchants.Load(filepath.Join(dir, "m.yaml"), vars)
		switch {
		case err == nil:
			t.Errorf("%s: loaded", tc.name)
		case !strings.Contains(err.Error(), tc.want):
			t.Errorf("%s: error %q, want it to mention %q", tc.name, err, tc.want)
		case strings.Contains(err.Error(), pasted) || strings.Contains(err.Error(), shopSecret):
			t.Errorf("%s: error %q repeats a secret", tc.name, err)
		}
	}
	if _, err := merchants.Load(filepath.Join(t.TempDir(), "absent.yaml"), vars); err == nil {
		t.Error("a missing merchants file loaded")
	}
}

func TestExampleFileLoads(t *testing.T) {
	set, err := merchants.Load("../../deploy/merchants.example.yaml", env(map[string]string{"FREEDOMPAY_SECRET_DEFAULT": "sim-secret"}))
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := set.Get("default"); !ok || m.AuthID == "" || m.Secret != "sim-secret" {
		t.Fatalf("deploy/merchants.example.yaml: default merchant %+v", m)
	}
}

func TestEachMerchantSignsWithItsOwnCredential(t *testing.T) {
	sim := fpsim.New(fpsim.Config{Credentials: map[string]string{"111": shopSecret, "222": outletSecret}})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	set, err := merchants.New(
		merchants.Merchant{Name: "shop", AuthID: "111", Secret: shopSecret},
		merchants.Merchant{Name: "outlet", AuthID: "222", Secret: outletSecret},
		merchants.Merchant{Name: "stale", AuthID: "111", Secret: "rotated-away"},
	)
	if err != nil {
		t.Fatal(err)
	}
	clients, err := set.Clients(srv.URL, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, wantKind := range map[string]freedompay.Kind{
		"shop": freedompay.KindNotFound, "outlet": freedompay.KindNotFound, "stale": freedompay.KindAuth,
	} {
		// Asking for an unknown request proves the signature was accepted
		// (not found) or refused (401) without moving any money.
		_, err := clients[name].Status(context.Background(), "00000000-0000-4000-8000-000000000000")
		if got := freedompay.KindOf(err); got != wantKind {
			t.Errorf("%s: %v (kind %s), want kind %s", name, err, got, wantKind)
		}
	}
}

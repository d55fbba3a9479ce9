package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/providercheck"
)

// errMismatch is provider-check's "the profile does not fit" exit.
var errMismatch = errors.New("the provider's replies do not all mean what the profile says; review the draft")

func runProviderCheck(ctx context.Context, e *env, _ []string) error {
	cfg := e.cfg
	base := providerBaseURL(cfg)
	if production(base) && !cfg.CheckAllowProd {
		return fmt.Errorf("refusing the production host %s: provider-check makes a real refund; pass --allow-prod to run it there", base)
	}
	cc, err := checkConfig(e, base)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "provider-check against %s as merchant %q (auth_id %s)\n\n", base, cfg.CheckMerchant, cc.Credential.AuthID)
	rep, err := providercheck.Run(ctx, cc)
	if err != nil {
		return err
	}
	rep.Print(e.stdout)
	if err := writeDraft(e, rep, cc.Profile, base); err != nil {
		return err
	}
	if !rep.OK() {
		return errMismatch
	}
	fmt.Fprintln(e.stdout, "every reply means what the profile says")
	return nil
}

func checkConfig(e *env, base string) (providercheck.Config, error) {
	cfg := e.cfg
	set, err := merchantSet(e)
	if err != nil {
		return providercheck.Config{}, err
	}
	m, ok := set.Get(cfg.CheckMerchant)
	if !ok {
		return providercheck.Config{}, fmt.Errorf("no merchant %q is configured", cfg.CheckMerchant)
	}
	amount, err := decimal.NewFromString(cfg.CheckAmount)
	if err != nil {
		return providercheck.Config{}, fmt.Errorf("--amount %q: %w", cfg.CheckAmount, err)
	}
	over, err := decimal.NewFromString(cfg.CheckOverAmount)
	if err != nil {
		return providercheck.Config{}, fmt.Errorf("--over-amount %q: %w", cfg.CheckOverAmount, err)
	}
	var profile *freedompay.Profile
	if f := set.ProfileFile(m.Name, cfg.ProviderProfile); f != "" {
		if profile, err = freedompay.LoadProfile(f); err != nil {
			return providercheck.Config{}, err
		}
	}
	return providercheck.Config{BaseURL: base, Credential: freedompay.Credential{AuthID: m.AuthID, Secret: m.Secret},
		Profile: profile, TransactionID: cfg.CheckTransactionID, OrderID: cfg.CheckOrderID, Amount: amount,
		OverAmount: over, PollFor: cfg.CheckPollFor, CallTimeout: cfg.ProviderTimeout}, nil
}

// production reports whether base names a production Card API host. Host
// names compare as DNS does, without case or a trailing dot; a URL that
// does not parse counts as production, to be safe.
func production(base string) bool {
	u, err := url.Parse(base)
	if err != nil {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	return strings.HasPrefix(host, "api.freedompay.")
}

func writeDraft(e *env, rep *providercheck.Report, current *freedompay.Profile, base string) error {
	u, _ := url.Parse(base)
	d := providercheck.Draft(rep, current, u.Hostname(), time.Now())
	b, err := d.Marshal()
	if err != nil {
		return err
	}
	head := "# Drafted by `refundq provider-check` from the replies above. Review every observed rule,\n" +
		"# then commit it and point REFUNDQ_PROVIDER_PROFILE (or a merchant's profile:) at it.\n"
	if err := os.WriteFile(e.cfg.CheckDraft, append([]byte(head), b...), 0o644); err != nil {
		return fmt.Errorf("write the profile draft: %w", err)
	}
	fmt.Fprintf(e.stdout, "\nprofile draft written to %s\n", e.cfg.CheckDraft)
	return nil
}

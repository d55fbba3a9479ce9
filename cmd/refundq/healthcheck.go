package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// runHealthcheck lets distroless images, which have no curl, run Docker
// healthchecks with the refundq binary itself.
func runHealthcheck(ctx context.Context, _ *env, args []string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", args[0], res.StatusCode)
	}
	return nil
}

package main

import (
	"path/filepath"
	"time"
)

// profile sizes one run. Every fault happens while refunds are still being
// enqueued or worked on, and the chaos window closes early enough that the
// tail (asynq's lease recovery of the last killed worker's tasks, up to
// 90s) fits the settle timeout.
type profile struct {
	name    string
	refunds int
	workers int
	// rate is Enqueue calls per second; parallel is how many run at once.
	rate     float64
	parallel int

	chaosWindow    time.Duration // SIGKILLs happen only within it
	killEvery      time.Duration
	gracefulAt     time.Duration
	redisRestartAt time.Duration // inside the intake, so enqueues must ride it out
	redisDown      time.Duration
	outageAt       time.Duration
	outage         time.Duration
	settleTimeout  time.Duration // after the chaos, for every refund to settle
	approveAt      time.Duration // the held batch's approval, with kills before and after it

	statusDelay time.Duration // how long the simulator keeps a refund in process
	provider    providerFaults
	worker      workerSettings
	// dialect is the simulator's wire vocabulary (native or alt); the
	// workers read it through worker.profileFile, or the shipped profile.
	dialect string
}

// providerFaults are the imperfections of a real provider, on top of the
// reply faults of chaosFaults: a status endpoint that lags its write side,
// calls that commit after the client gave up (some while the duplicate
// check does not yet hold the request_id), and requests that request
// status forgets while the duplicate check still knows them.
type providerFaults struct {
	statusLagRate          float64
	statusLagMax           time.Duration
	lateRate, lateRaceRate float64
	lateMin, lateMax       time.Duration
	forgetRate             float64
}

var defaultWorker = workerSettings{
	providerTimeout: 2 * time.Second,
	shutdownTimeout: 10 * time.Second,
	pollSchedule:    "500ms,1s,2s,3s",
	breakerOpen:     5 * time.Second,
}

// fullProvider is the mix: status lag up to 30s on 20% of
// requests, late commits on 5% (executed 1-20s after the client gave up;
// 2% with a racing duplicate check), forgotten requests on 1%. The settle
// window outlasts the longest "not found" a request that arrived can show:
// the call (2s) plus the late commit (20s) plus the lag (30s).
var fullProvider = providerFaults{statusLagRate: 0.20, statusLagMax: 30 * time.Second, lateRate: 0.03, lateRaceRate: 0.02,
	lateMin: time.Second, lateMax: 20 * time.Second, forgetRate: 0.01}

// fullProfile is the run: 10k refunds over about 100s of intake.
func fullProfile() profile {
	return profile{
		name: "full", refunds: 10000, workers: 3, rate: 100, parallel: 8,
		chaosWindow: 150 * time.Second, killEvery: 6 * time.Second,
		gracefulAt: 25 * time.Second, redisRestartAt: 45 * time.Second, redisDown: 3 * time.Second,
		outageAt: 70 * time.Second, outage: 30 * time.Second, settleTimeout: 20 * time.Minute, approveAt: 90 * time.Second,
		statusDelay: 500 * time.Millisecond, provider: fullProvider, worker: withSettleWindow(defaultWorker, 60*time.Second),
	}
}

// smallProfile is the reduced run `make test` includes: about 1k refunds,
// a few kills, one Redis restart, a short outage. It is the full run at
// the scale `make test` can afford: the same workers, fault rates and
// Redis downtime, with every time scaled down.
func smallProfile() profile {
	p := fullProfile()
	p.name, p.refunds, p.rate, p.parallel = "reduced", 1000, 50, 4
	p.chaosWindow, p.killEvery = 40*time.Second, 8*time.Second
	p.gracefulAt, p.redisRestartAt = 8*time.Second, 12*time.Second
	p.outageAt, p.outage, p.settleTimeout, p.approveAt = 22*time.Second, 10*time.Second, 5*time.Minute, 26*time.Second
	p.provider.statusLagMax, p.provider.lateMax = 8*time.Second, 5*time.Second
	p.worker.settleWindow = 20 * time.Second
	return p
}

func withSettleWindow(w workerSettings, d time.Duration) workerSettings {
	w.settleWindow = d
	return w
}

// inDialect is p run against the simulator's dialect d, the workers reading
// its replies through the profile file (empty: the shipped profile).
func inDialect(p profile, d, profileFile string, refunds int) profile {
	p.dialect, p.worker.profileFile = d, profileFile
	p.name += " (" + d + " dialect, " + profileName(profileFile) + " profile)"
	if refunds > 0 && refunds < p.refunds {
		// The rarest fault must still happen in a smaller run, or the
		// coverage check fails a run that proved nothing only by chance:
		// forgotten requests keep the count they have at full size.
		p.provider.forgetRate *= float64(p.refunds) / float64(refunds)
		p.refunds = refunds
	}
	return p
}

func profileName(file string) string {
	if file == "" {
		return "shipped"
	}
	return filepath.Base(file)
}

package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// observer is the benchmark's own Redis client for measuring: INFO, progress
// checks, reading results. It counts what it sends, so those commands can be
// taken out of the commands charged to refundq.
type observer struct {
	rdb *redis.Client
	mu  sync.Mutex
	own map[string]int64
}

func newObserver(addr string) *observer {
	o := &observer{rdb: redis.NewClient(&redis.Options{Addr: addr}), own: map[string]int64{}}
	o.rdb.AddHook(o)
	return o
}

func (o *observer) count(cmds ...redis.Cmder) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, c := range cmds {
		o.own[strings.ToLower(c.Name())]++
	}
}

func (o *observer) DialHook(next redis.DialHook) redis.DialHook { return next }

func (o *observer) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		o.count(cmd)
		return next(ctx, cmd)
	}
}

func (o *observer) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		o.count(cmds...)
		return next(ctx, cmds)
	}
}

func (o *observer) ownCounts() map[string]int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make(map[string]int64, len(o.own))
	for k, v := range o.own {
		out[k] = v
	}
	return out
}

// snapshot is Redis's counters at one moment.
type snapshot struct {
	usedMemory int64
	cpuSeconds float64
	calls      map[string]int64
	usec       map[string]int64
	own        map[string]int64
}

func (o *observer) snapshot(ctx context.Context) (snapshot, error) {
	info, err := o.rdb.Info(ctx, "memory", "cpu", "commandstats").Result()
	if err != nil {
		return snapshot{}, fmt.Errorf("redis info: %w", err)
	}
	s := snapshot{calls: map[string]int64{}, usec: map[string]int64{}, own: o.ownCounts()}
	s.usedMemory, _ = strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
	sys, _ := strconv.ParseFloat(infoField(info, "used_cpu_sys"), 64)
	user, _ := strconv.ParseFloat(infoField(info, "used_cpu_user"), 64)
	s.cpuSeconds = sys + user
	for line := range strings.SplitSeq(info, "\r\n") {
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, stats, _ := strings.Cut(rest, ":")
		name = strings.ReplaceAll(name, "|", " ")
		for kv := range strings.SplitSeq(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "calls":
				s.calls[name], _ = strconv.ParseInt(v, 10, 64)
			case "usec":
				s.usec[name], _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return s, nil
}

// usage is what Redis did between two snapshots, without the observer's own
// commands. Commands run inside Lua scripts count, as INFO commandstats
// counts them: an EVALSHA that runs five commands is six.
type usage struct {
	calls      map[string]int64
	usec       map[string]int64 // Redis time per command, scripts including what they run
	total      int64
	scripts    int64 // EVAL/EVALSHA calls: round trips that ran Lua
	cpuSeconds float64
	memory     int64
}

func (b snapshot) to(a snapshot) usage {
	u := usage{calls: map[string]int64{}, usec: map[string]int64{}, cpuSeconds: a.cpuSeconds - b.cpuSeconds, memory: a.usedMemory - b.usedMemory}
	for name, n := range a.calls {
		d := n - b.calls[name] - (a.own[name] - b.own[name])
		if d <= 0 {
			continue
		}
		u.calls[name] = d
		u.usec[name] = a.usec[name] - b.usec[name]
		u.total += d
		if name == "eval" || name == "evalsha" {
			u.scripts += d
		}
	}
	return u
}

// top lists the most frequent commands, per unit of work.
func (u usage) top(per float64, n int) string { return topOf(u.calls, per, n, "%s %.2f") }

// topTime lists the commands Redis spent most time in, in µs per unit of
// work. A script's time includes the commands it ran, which also appear
// on their own.
func (u usage) topTime(per float64, n int) string { return topOf(u.usec, per, n, "%s %.1fµs") }

func topOf(m map[string]int64, per float64, n int, format string) string {
	type kv struct {
		name string
		n    int64
	}
	var all []kv
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || (all[i].n == all[j].n && all[i].name < all[j].name) })
	var parts []string
	for i, e := range all {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf(format, e.name, float64(e.n)/per))
	}
	return strings.Join(parts, ", ")
}

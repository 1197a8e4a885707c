package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"sync"
)

// Counter keeps per-key hit counts for the metrics endpoint.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

func NewCounter() *Counter {
	return &Counter{counts: make(map[string]int)}
}

func (c *Counter) Increment(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[key]++
	return c.counts[key]
}

func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	result := make(map[string]int, len(c.counts))
	for key, value := range c.counts {
		result[key] = value
	}
	return result
}

func parseLimit(r *http.Request, fallback int) (int, error) {
	raw := r.URL.Query().Get("limit")
	if raw == "" {
		return fallback, nil
	}
	// reject limits that are not positive numbers
	limit, err := strconv.Atoi(raw)
	if err != nil || limit <= 0 {
		return 0, fmt.Errorf("invalid limit %q", raw)
	}
	return limit, nil
}

func main() {
	counter := NewCounter()
	http.HandleFunc("/hit", func(w http.ResponseWriter, r *http.Request) {
		count := counter.Increment(r.URL.Path)
		fmt.Fprintf(w, "hits so far: %d\n", count)
	})
	http.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(counter.Snapshot()); err != nil {
			log.Printf("cannot encode metrics: %v", err)
		}
	})
	log.Fatal(http.ListenAndServe(":8080", nil))
}

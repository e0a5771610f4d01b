// The front page's fan-out on Go's net/http, the peer of the `coro` model: each request runs
// blocking-style on its own goroutine, parked while it waits, as gevent's green threads do.
// GET /<ms>/ (GET / is /300/) calls the country API's /<ms>/, /<2ms>/ and /<ms/2>/ on three
// goroutines through one shared http.Client whose Transport keeps every connection alive, and
// renders the first call's country and the fan-out's duration; 504 when a call times out, 502
// when one fails. Standard library only.
//
//	fanout-go PORT UPSTREAM[,UPSTREAM...] GOMAXPROCS PAGE_HTML
//
// UPSTREAM is the API's base URL (http://127.0.0.1:PORT); with several, the pages take them in
// turn. GOMAXPROCS 0 keeps Go's default (every core). PAGE_HTML is the page's template
// (bench/targets/page.html). SIGTERM shuts it down gracefully.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const callTimeout = 30 * time.Second

// The page, shared by the peers (the model's is src/page.c), parsed at start from PAGE_HTML.
var page *template.Template

// The transport keeps every connection a page opened (Go keeps 2 idle ones a host by default).
var client = &http.Client{
	Timeout: callTimeout,
	Transport: &http.Transport{
		MaxIdleConns:        0, // no limit over all hosts
		MaxIdleConnsPerHost: 1 << 16,
		IdleConnTimeout:     90 * time.Second,
	},
}

type server struct {
	bases []string
	turn  atomic.Uint64
}

// call fetches base/ms/ and returns the country's name, or an error and its status (502, 504).
func call(ctx context.Context, base string, ms int) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%d/", base, ms), nil)
	if err != nil {
		return "", http.StatusBadGateway, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "", http.StatusGatewayTimeout, fmt.Errorf("upstream /%d/: timed out after %v", ms, callTimeout)
		}
		return "", http.StatusBadGateway, fmt.Errorf("upstream /%d/: %w", ms, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", http.StatusBadGateway, fmt.Errorf("upstream /%d/: status %d", ms, resp.StatusCode)
	}
	var country struct{ Name string }
	if err := json.NewDecoder(resp.Body).Decode(&country); err != nil {
		return "", http.StatusBadGateway, fmt.Errorf("upstream /%d/: bad answer: %w", ms, err)
	}
	return country.Name, http.StatusOK, nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ms := 300
	if p := strings.Trim(r.URL.Path, "/"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 60000 || strings.Contains(p, "/") {
			http.NotFound(w, r)
			return
		}
		ms = n
	}
	base := s.bases[s.turn.Add(1)%uint64(len(s.bases))]
	start := time.Now()
	calls := [3]int{ms, 2 * ms, ms / 2}
	var names [3]string
	var statuses [3]int
	var errs [3]error
	var wg sync.WaitGroup
	for i, m := range calls {
		wg.Add(1)
		go func(i, m int) {
			defer wg.Done()
			names[i], statuses[i], errs[i] = call(r.Context(), base, m)
		}(i, m)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			http.Error(w, err.Error(), statuses[i])
			return
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := struct {
		Name    string
		Seconds string
	}{names[0], fmt.Sprintf("%.3f", time.Since(start).Seconds())}
	if err := page.Execute(w, data); err != nil {
		log.Printf("render: %v", err)
	}
}

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: fanout-go PORT UPSTREAM[,UPSTREAM...] GOMAXPROCS PAGE_HTML")
		os.Exit(2)
	}
	page = template.Must(template.ParseFiles(os.Args[4]))
	if n, err := strconv.Atoi(os.Args[3]); err != nil || n < 0 {
		log.Fatalf("GOMAXPROCS must be a whole number, not %q", os.Args[3])
	} else if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	s := &server{bases: strings.Split(os.Args[2], ",")}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s (GOMAXPROCS %d)\n", ln.Addr(), runtime.GOMAXPROCS(0))
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

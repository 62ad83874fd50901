package grpccache_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/grpccache"
)

const (
	checkMethod = "/grpc.health.v1.Health/Check"
	listMethod  = "/grpc.health.v1.Health/List"
)

// health is a Health service whose answers depend on the service name.
type health struct {
	healthpb.UnimplementedHealthServer
	checks, lists atomic.Int32
}

func (h *health) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.checks.Add(1)
	switch req.GetService() {
	case "missing":
		return nil, status.Error(codes.NotFound, "no such service")
	case "broken":
		return nil, status.Error(codes.Internal, "broken")
	case "whoami":
		md, _ := metadata.FromIncomingContext(ctx)
		if len(md.Get("user")) == 0 {
			return nil, status.Error(codes.Unauthenticated, "no user")
		}
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func (h *health) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	h.lists.Add(1)
	return &healthpb.HealthListResponse{}, nil
}

// serviceKey caches Check per service name, except "private".
func serviceKey(_ context.Context, _ string, req proto.Message) (string, bool) {
	r, ok := req.(*healthpb.HealthCheckRequest)
	svc := r.GetService()
	return "svc:" + svc, ok && svc != "private"
}

// startServer serves h behind ic over an in-memory listener and returns a
// client; both stop at the end of the test.
func startServer(t *testing.T, h *health, ic grpc.UnaryServerInterceptor) healthpb.HealthClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.UnaryInterceptor(ic))
	healthpb.RegisterHealthServer(srv, h)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return healthpb.NewHealthClient(conn)
}

func TestInterceptorOverBufconn(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	h := &health{}
	client := startServer(t, h, grpccache.UnaryServerInterceptor(s, grpccache.Options{
		Methods: []string{checkMethod},
		Key:     serviceKey,
		TTL:     time.Minute,
	}))
	tests := []struct {
		name    string
		service string
		code    codes.Code
		checks  int32 // handler calls after this call
	}{
		{"fill", "db", codes.OK, 1},
		{"hit", "db", codes.OK, 1},
		{"other key", "queue", codes.OK, 2},
		{"hit again", "db", codes.OK, 2},
		{"key refuses", "private", codes.OK, 3},
		{"key refuses again", "private", codes.OK, 4},
		{"errors are not cached", "missing", codes.NotFound, 5},
		{"errors are not cached, again", "missing", codes.NotFound, 6},
		{"server errors keep their code", "broken", codes.Internal, 7},
	}
	for _, tc := range tests {
		resp, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{Service: tc.service})
		if status.Code(err) != tc.code {
			t.Errorf("%s: Check(%q) error %v, want code %s", tc.name, tc.service, err, tc.code)
		}
		if tc.code == codes.OK && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("%s: Check(%q) = %v, want SERVING", tc.name, tc.service, resp)
		}
		if got := h.checks.Load(); got != tc.checks {
			t.Errorf("%s: handler ran %d times so far, want %d", tc.name, got, tc.checks)
		}
	}
	// Methods not listed pass through.
	for range 2 {
		if _, err := client.List(t.Context(), &healthpb.HealthListRequest{}); err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	if got := h.lists.Load(); got != 2 {
		t.Errorf("List ran %d times, want 2 (not cached)", got)
	}
	if st := s.Stats(); st.FetchErrors != 1 {
		t.Errorf("Stack counted %d fetch errors, want 1 (Internal; NotFound is an answer)", st.FetchErrors)
	}
}

// TestPerUserKey shows the required key at work: the user comes from the
// metadata, which the request message does not hold.
func TestPerUserKey(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	h := &health{}
	client := startServer(t, h, grpccache.UnaryServerInterceptor(s, grpccache.Options{
		Methods: []string{checkMethod},
		Key: func(ctx context.Context, _ string, _ proto.Message) (string, bool) {
			md, _ := metadata.FromIncomingContext(ctx)
			users := md.Get("user")
			if len(users) != 1 {
				return "", false
			}
			return "user:" + users[0], true
		},
	}))
	call := func(user string) codes.Code {
		ctx := t.Context()
		if user != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "user", user)
		}
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: "whoami"})
		return status.Code(err)
	}
	steps := []struct {
		user   string
		code   codes.Code
		checks int32
	}{
		{"ann", codes.OK, 1},
		{"ann", codes.OK, 1},
		{"", codes.Unauthenticated, 2}, // no user, no key: never served ann's entry
		{"bob", codes.OK, 3},
	}
	for i, st := range steps {
		if got := call(st.user); got != st.code || h.checks.Load() != st.checks {
			t.Errorf("call %d as %q: code %s after %d handler runs, want %s after %d", i, st.user, got, h.checks.Load(), st.code, st.checks)
		}
	}
}

func TestStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, _ := cachetest.NewStack(t, cache.Options{})
		ic := grpccache.UnaryServerInterceptor(s, grpccache.Options{Methods: []string{checkMethod}, Key: serviceKey})
		var calls atomic.Int32
		release := make(chan struct{})
		handler := func(ctx context.Context, req any) (any, error) {
			calls.Add(1)
			<-release
			return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
		}
		info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
		resps := make([]any, 8)
		var wg sync.WaitGroup
		for i := range resps {
			wg.Go(func() {
				resp, err := ic(t.Context(), &healthpb.HealthCheckRequest{Service: "db"}, info, handler)
				if err != nil {
					t.Errorf("call %d: %v", i, err)
				}
				resps[i] = resp
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times for 8 concurrent calls, want 1", n)
		}
		for i, r := range resps {
			for j := range i {
				if r == resps[j] {
					t.Errorf("calls %d and %d got the same message; each caller needs its own", j, i)
				}
			}
			if m, ok := r.(*healthpb.HealthCheckResponse); !ok || m.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("call %d: got %v", i, r)
			}
		}
	})
}

func TestStaleIfErrorAndRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, clock := cachetest.NewStack(t, cache.Options{})
		ic := grpccache.UnaryServerInterceptor(s, grpccache.Options{
			Methods: []string{checkMethod}, Key: serviceKey, TTL: time.Minute,
			CallOptions: []cache.Option{cache.StaleIfError(time.Minute), cache.StaleWhileRevalidate(10 * time.Second)},
		})
		info := &grpc.UnaryServerInfo{FullMethod: checkMethod}
		var calls atomic.Int32
		handler := func(ctx context.Context, req any) (any, error) {
			n := calls.Add(1)
			switch n {
			case 1:
				return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
			case 2: // the background refresh, after the call returned
				if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("trace")) == 0 {
					t.Errorf("the refresh lost the call's metadata")
				}
				return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
			default:
				return nil, status.Error(codes.Unavailable, "down")
			}
		}
		ctx := metadata.NewIncomingContext(t.Context(), metadata.Pairs("trace", "t1"))
		check := func() healthpb.HealthCheckResponse_ServingStatus {
			resp, err := ic(ctx, &healthpb.HealthCheckRequest{Service: "db"}, info, handler)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			r, _ := resp.(*healthpb.HealthCheckResponse)
			return r.GetStatus()
		}
		serving, notServing := healthpb.HealthCheckResponse_SERVING, healthpb.HealthCheckResponse_NOT_SERVING
		steps := []struct {
			name    string
			advance time.Duration
			want    healthpb.HealthCheckResponse_ServingStatus
		}{
			{"fill", 0, serving},
			{"stale while revalidating", 65 * time.Second, serving},
			{"refreshed", 0, notServing},
			{"Unavailable inside stale-if-error: stale value", 90 * time.Second, notServing},
		}
		for _, st := range steps {
			clock.Advance(st.advance)
			if got := check(); got != st.want {
				t.Errorf("%s: %s, want %s", st.name, got, st.want)
			}
			synctest.Wait() // let a background refresh finish
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("handler ran %d times, want 3 (fill, refresh, failed fetch)", n)
		}
	})
}

func TestNewResponseAndCorruptEntries(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	var made atomic.Int32
	ic := grpccache.UnaryServerInterceptor(s, grpccache.Options{
		Methods: []string{"/custom.Service/Get"},
		Key:     func(context.Context, string, proto.Message) (string, bool) { return "k", true },
		NewResponse: func(string) proto.Message {
			made.Add(1)
			return &healthpb.HealthCheckResponse{}
		},
	})
	// Something that is not a response of the method sits under the key.
	if err := cache.Typed[[]byte](s).Set(t.Context(), "/custom.Service/Get k", []byte{0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	handler := func(context.Context, any) (any, error) {
		calls.Add(1)
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/custom.Service/Get"}
	for i, want := range []int32{1, 2, 2} { // corrupt: served and dropped; miss; hit
		resp, err := ic(t.Context(), &healthpb.HealthCheckRequest{}, info, handler)
		if r, _ := resp.(*healthpb.HealthCheckResponse); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("call %d: %v, %v", i, resp, err)
		}
		if calls.Load() != want {
			t.Errorf("call %d: handler ran %d times, want %d", i, calls.Load(), want)
		}
	}
	if made.Load() < 2 {
		t.Errorf("NewResponse called %d times, want at least 2 (check at New, and hits)", made.Load())
	}
}

func TestOptions(t *testing.T) {
	s, _ := cachetest.NewStack(t, cache.Options{})
	key := func(context.Context, string, proto.Message) (string, bool) { return "", false }
	tests := []struct {
		name  string
		stack *cache.Stack
		opts  grpccache.Options
		want  string
	}{
		{"valid", s, grpccache.Options{Methods: []string{checkMethod, listMethod}, Key: key}, ""},
		{"nil stack", nil, grpccache.Options{Methods: []string{checkMethod}, Key: key}, "cache.Stack"},
		{"no methods", s, grpccache.Options{Key: key}, "Options.Methods"},
		{"no key", s, grpccache.Options{Methods: []string{checkMethod}}, "Options.Key"},
		{"negative TTL", s, grpccache.Options{Methods: []string{checkMethod}, Key: key, TTL: -1}, "Options.TTL"},
		{"malformed name", s, grpccache.Options{Methods: []string{"grpc.health.v1.Health.Check"}, Key: key}, "full method name"},
		{"unknown service", s, grpccache.Options{Methods: []string{"/no.Such/Method"}, Key: key}, "no.Such"},
		{"unknown method", s, grpccache.Options{Methods: []string{"/grpc.health.v1.Health/Nope"}, Key: key}, "no method Nope"},
		{"streaming", s, grpccache.Options{Methods: []string{"/grpc.health.v1.Health/Watch"}, Key: key}, "streaming"},
		{"nil NewResponse", s, grpccache.Options{Methods: []string{"/a.B/C"}, Key: key,
			NewResponse: func(string) proto.Message { return nil }}, "NewResponse"},
		{"bad call option", s, grpccache.Options{Methods: []string{checkMethod}, Key: key,
			CallOptions: []cache.Option{cache.TTL(-1)}}, "Options.CallOptions"},
	}
	for _, tc := range tests {
		_, err := grpccache.New(tc.stack, tc.opts)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: New returned %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
}

package grpccache_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/grpccache"
	"github.com/layercache/layercache/pkg/cache/memory"
)

func ExampleUnaryServerInterceptor() {
	ctx := context.Background()
	l1, err := memory.New(memory.Options{})
	if err != nil {
		panic(err)
	}
	stack, err := cache.New(ctx, []cache.Layer{l1}, cache.Options{})
	if err != nil {
		panic(err)
	}
	defer func() { _ = stack.Close(ctx) }()

	ic := grpccache.UnaryServerInterceptor(stack, grpccache.Options{
		Methods: []string{"/grpc.health.v1.Health/Check"},
		Key: func(_ context.Context, _ string, req proto.Message) (string, bool) {
			r, ok := req.(*healthpb.HealthCheckRequest)
			return r.GetService(), ok
		},
		TTL: time.Minute,
	})
	// In a server: grpc.NewServer(grpc.ChainUnaryInterceptor(ic)). Here the
	// interceptor is called as gRPC would.
	calls := 0
	handler := func(context.Context, any) (any, error) {
		calls++
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	for range 3 {
		resp, err := ic(ctx, &healthpb.HealthCheckRequest{Service: "db"}, info, handler)
		if err != nil {
			panic(err)
		}
		r, _ := resp.(*healthpb.HealthCheckResponse)
		fmt.Println(r.GetStatus(), "handler calls:", calls)
	}
	// Output:
	// SERVING handler calls: 1
	// SERVING handler calls: 1
	// SERVING handler calls: 1
}

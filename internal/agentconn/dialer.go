package agentconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/layercache/layercache/api/v1alpha1"
	"github.com/layercache/layercache/pkg/agent/agentapi"
	"github.com/layercache/layercache/pkg/agent/agentclient"
)

// Admin is what the operator asks of one agent. *agentclient.Admin
// implements it.
type Admin interface {
	Status(ctx context.Context) (agentapi.Status, error)
	ApplyPolicy(ctx context.Context, p agentapi.Policy) (agentapi.PolicyResult, error)
	Invalidate(ctx context.Context, uid string, req agentapi.InvalidationRequest) (agentapi.InvalidationResult, error)
	Snapshot(ctx context.Context, uid string, req agentapi.SnapshotRequest) (agentapi.SnapshotResult, error)
	DeleteSnapshot(ctx context.Context, uid string) (agentapi.SnapshotDeleteResult, error)
	Sync(ctx context.Context, req agentapi.SyncRequest) (agentapi.SyncResult, error)
}

// Resolver returns the host:port of the admin API of pod's agent, given the
// port its policy declares (0 for the default).
type Resolver func(pod *corev1.Pod, policyPort int32) (string, error)

// Dialer hands out admin clients for pods. Callers bound every call with
// their context's deadline.
type Dialer struct {
	// Resolve maps a pod to its agent's address.
	//
	// default: PodAddress
	Resolve Resolver
	// TLS is the operator's client configuration (see ClientTLS); nil
	// means plain HTTP, for agents started with an insecure admin API
	// (development only).
	TLS *tls.Config

	http *http.Client
}

// NewDialer returns a Dialer with one pooled HTTP client.
func NewDialer(tlsConfig *tls.Config, resolve Resolver) *Dialer {
	if resolve == nil {
		resolve = PodAddress
	}
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: agentclient.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsConfig,
		TLSHandshakeTimeout: agentclient.DialTimeout,
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Dialer{
		Resolve: resolve,
		TLS:     tlsConfig,
		// No client-wide timeout: each call carries its own deadline (a
		// status poll is short, a snapshot may take a minute).
		http: &http.Client{Transport: transport},
	}
}

// For returns a client of pod's agent.
func (d *Dialer) For(pod *corev1.Pod, policyPort int32) (Admin, error) {
	host, err := d.Resolve(pod, policyPort)
	if err != nil {
		return nil, err
	}
	return agentclient.NewAdmin(host, d.TLS, d.http), nil
}

// Close releases idle connections.
func (d *Dialer) Close() { d.http.CloseIdleConnections() }

// ErrNoAddress is returned for a pod without an IP yet.
var ErrNoAddress = errors.New("pod has no IP address yet")

// PodAddress is the default Resolver: the pod's IP and the port from its
// cache.layercache.io/admin-port annotation, else the policy's, else
// agentapi.AdminPort.
func PodAddress(pod *corev1.Pod, policyPort int32) (string, error) {
	if pod.Status.PodIP == "" {
		return "", fmt.Errorf("agentconn: pod %s/%s: %w", pod.Namespace, pod.Name, ErrNoAddress)
	}
	port := agentapi.AdminPort
	if policyPort > 0 {
		port = int(policyPort)
	}
	if s, ok := pod.Annotations[v1alpha1.AnnotationAdminPort]; ok {
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("agentconn: pod %s/%s: annotation %s=%q is not a port", pod.Namespace, pod.Name, v1alpha1.AnnotationAdminPort, s)
		}
		port = p
	}
	return net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)), nil
}

// Retryable reports whether err is worth retrying: a network error or a
// 5xx answer. A 4xx means the agent understood and refused.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var e *agentclient.Error
	if errors.As(err, &e) {
		return e.StatusCode >= 500
	}
	return true
}

package pki

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// Defaults of the Rotator's and the Source's zero fields.
const (
	// DefaultCASecret is the Secret, in the operator's namespace, of the
	// CA: KeyCACert, KeyCAKey and KeyBundle.
	DefaultCASecret = "layercache-ca"
	// DefaultOperatorSecret is the kubernetes.io/tls Secret, in the
	// operator's namespace, of the operator's client certificate.
	DefaultOperatorSecret = "layercache-operator-tls"
	// DefaultWebhookSecret is the kubernetes.io/tls Secret, in the
	// operator's namespace, of the webhook's serving certificate.
	DefaultWebhookSecret = "layercache-webhook-tls"
	// DefaultCAValidity is the lifetime of a new CA: 2 years.
	DefaultCAValidity = 2 * 365 * 24 * time.Hour
	// DefaultLeafValidity is the lifetime of a new leaf: 90 days.
	DefaultLeafValidity = 90 * 24 * time.Hour
	// DefaultInterval is the time between two passes of Rotator.Start.
	DefaultInterval = time.Hour
)

// firstRetry is the wait after a failed pass of Start; it doubles with
// each failure in a row, up to the Interval.
const firstRetry = 5 * time.Second

// Rotator creates and renews the operator's CA and every certificate it
// signs, in Secrets (see the package documentation). Each method reads
// the Secrets afresh and writes with optimistic concurrency, so methods
// may run concurrently, in several goroutines or processes; the Rotator
// itself holds no state and its fields must not change once in use.
//
// It needs RBAC to get, list, create and update Secrets in every namespace
// that gets agents, and to get and update its MutatingWebhookConfiguration
// (the RBAC markers on Reconcile).
type Rotator struct {
	// Client writes the Secrets and the webhook configuration.
	//
	// default: none; required
	Client client.Client

	// Reader reads them. Give it an uncached reader (the manager's
	// GetAPIReader): a cached one would keep every Secret of the cluster
	// in memory, and could return stale objects that make every write a
	// conflict.
	//
	// default: Client
	Reader client.Reader

	// Namespace is the operator's namespace, where the CA, operator and
	// webhook Secrets live.
	//
	// default: none; required
	Namespace string

	// CASecret, OperatorSecret and WebhookSecret name the Secrets in
	// Namespace.
	//
	// default: DefaultCASecret, DefaultOperatorSecret, DefaultWebhookSecret
	CASecret, OperatorSecret, WebhookSecret string

	// WebhookService is the name of the webhook's Service in Namespace;
	// the webhook certificate is issued for <svc>.<ns>.svc and
	// <svc>.<ns>.svc.cluster.local.
	//
	// default: "" (no webhook certificate)
	WebhookService string

	// WebhookConfig names the MutatingWebhookConfiguration whose every
	// webhook gets the CA bundle as clientConfig.caBundle.
	//
	// default: "" (none is patched)
	WebhookConfig string

	// Now is the clock.
	//
	// default: time.Now
	Now func() time.Time

	// CAValidity and LeafValidity are the lifetimes of new certificates;
	// each is renewed when a third of it is left (see NeedsRenewal).
	//
	// default: DefaultCAValidity (2 years), DefaultLeafValidity (90 days)
	CAValidity, LeafValidity time.Duration

	// Interval is the time between two passes of Start after a
	// successful one. After a failure Start retries after 5 seconds,
	// doubling with each failure in a row, up to Interval.
	//
	// default: DefaultInterval (1 hour)
	Interval time.Duration
}

var (
	_ manager.Runnable               = (*Rotator)(nil)
	_ manager.LeaderElectionRunnable = (*Rotator)(nil)
)

// resolved returns a copy of r with the defaults filled in, or an error
// naming the first invalid field.
func (r *Rotator) resolved() (*Rotator, error) {
	o := *r
	switch {
	case o.Client == nil:
		return nil, errors.New("pki: Rotator.Client is nil")
	case o.Namespace == "":
		return nil, errors.New("pki: Rotator.Namespace is empty")
	case o.CAValidity < 0:
		return nil, fmt.Errorf("pki: Rotator.CAValidity is %s; it must not be negative", o.CAValidity)
	case o.LeafValidity < 0:
		return nil, fmt.Errorf("pki: Rotator.LeafValidity is %s; it must not be negative", o.LeafValidity)
	case o.Interval < 0:
		return nil, fmt.Errorf("pki: Rotator.Interval is %s; it must not be negative", o.Interval)
	}
	if o.Reader == nil {
		o.Reader = o.Client
	}
	o.CASecret = orDefault(o.CASecret, DefaultCASecret)
	o.OperatorSecret = orDefault(o.OperatorSecret, DefaultOperatorSecret)
	o.WebhookSecret = orDefault(o.WebhookSecret, DefaultWebhookSecret)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CAValidity == 0 {
		o.CAValidity = DefaultCAValidity
	}
	if o.LeafValidity == 0 {
		o.LeafValidity = DefaultLeafValidity
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	return &o, nil
}

func (r *Rotator) reader() client.Reader { return r.Reader }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;create;update
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations,verbs=get;update

// Reconcile brings all the TLS material up to date: the CA, the operator
// and webhook certificates, the webhook's caBundle, and every agent
// Secret this Rotator issued (in any namespace). A failing step does not
// stop the others, except the CA, which they all need; the error joins
// them all.
func (r *Rotator) Reconcile(ctx context.Context) error {
	return r.withCA(ctx, func(rr *Rotator, ctx context.Context, ca *caState) error {
		return errors.Join(
			rr.ensureOperatorCert(ctx, ca),
			rr.ensureWebhookCert(ctx, ca),
			rr.patchWebhookCABundle(ctx, ca),
			rr.ensureAgentSecrets(ctx, ca),
		)
	})
}

// Start runs Reconcile at once, then every Interval, until ctx ends; it
// then returns nil. A failed pass is logged and retried sooner (see
// Interval). It returns an error only for an invalid Rotator.
func (r *Rotator) Start(ctx context.Context) error {
	rr, err := r.resolved()
	if err != nil {
		return err
	}
	log := logf.FromContext(ctx).WithName("pki")
	timer := time.NewTimer(0)
	defer timer.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		next := rr.Interval
		if err := rr.Reconcile(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			next = retryAfter(failures, rr.Interval)
			log.Error(err, "TLS material not reconciled", "retryIn", next)
		} else {
			failures = 0
			log.V(1).Info("TLS material reconciled", "next", next)
		}
		timer.Reset(next)
	}
}

// retryAfter is the wait after the n-th failure in a row.
func retryAfter(n int, ceiling time.Duration) time.Duration {
	d := firstRetry
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// NeedLeaderElection reports true: only the leader writes the Secrets.
// (They are optimistic writes, so two writers would be safe, but they
// could issue two certificates where one suffices.)
func (r *Rotator) NeedLeaderElection() bool { return true }

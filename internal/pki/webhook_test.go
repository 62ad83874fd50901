package pki_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/layercache/layercache/internal/pki"
)

// createWebhookConfig creates a MutatingWebhookConfiguration with two
// webhooks for the Service webhookService in ns, matching no object.
func createWebhookConfig(t *testing.T, ns string) string {
	t.Helper()
	sideEffects := admissionregistrationv1.SideEffectClassNone
	ignore := admissionregistrationv1.Ignore
	path := "/mutate-v1-pod"
	webhook := func(name string) admissionregistrationv1.MutatingWebhook {
		return admissionregistrationv1.MutatingWebhook{
			Name: name + ".layercache.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: webhookService, Path: &path},
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"pki-test": ns}},
			SideEffects:             &sideEffects,
			FailurePolicy:           &ignore,
			AdmissionReviewVersions: []string{"v1"},
		}
	}
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "layercache-" + ns},
		Webhooks:   []admissionregistrationv1.MutatingWebhook{webhook("inject"), webhook("other")},
	}
	must(t, k8s.Create(context.Background(), cfg))
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), cfg) })
	return cfg.Name
}

func TestPatchWebhookCABundle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	r := newRotator(ns, newClock(time.Now()))
	r.WebhookConfig = createWebhookConfig(t, ns)
	must(t, r.PatchWebhookCABundle(ctx))

	bundle := getSecret(t, ns, pki.DefaultCASecret).Data[pki.KeyBundle]
	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	must(t, k8s.Get(ctx, keyOf("", r.WebhookConfig), &cfg))
	for _, w := range cfg.Webhooks {
		if string(w.ClientConfig.CABundle) != string(bundle) {
			t.Errorf("webhook %s: caBundle is not the CA bundle", w.Name)
		}
	}
	must(t, r.PatchWebhookCABundle(ctx))
	var again admissionregistrationv1.MutatingWebhookConfiguration
	must(t, k8s.Get(ctx, keyOf("", r.WebhookConfig), &again))
	if again.ResourceVersion != cfg.ResourceVersion {
		t.Error("a second PatchWebhookCABundle wrote")
	}
}

func TestPatchWebhookCABundleNamesAMissingConfiguration(t *testing.T) {
	t.Parallel()
	r := newRotator(newNamespace(t), newClock(time.Now()))
	r.WebhookConfig = "layercache-does-not-exist"
	if err := r.PatchWebhookCABundle(context.Background()); err == nil || !strings.Contains(err.Error(), r.WebhookConfig) {
		t.Fatalf("PatchWebhookCABundle = %v, want an error naming %s", err, r.WebhookConfig)
	}
}

// TestTheAPIServerWouldTrustTheWebhook serves Source.GetWebhookCertificate
// and connects the way the API server does: the Service's DNS name,
// verified against the configuration's caBundle.
func TestTheAPIServerWouldTrustTheWebhook(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := newNamespace(t)
	r := newRotator(ns, newClock(time.Now()))
	r.WebhookConfig = createWebhookConfig(t, ns)
	must(t, r.Reconcile(ctx))

	src := &pki.Source{Reader: k8s, Namespace: ns}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: src.GetWebhookCertificate})
	must(t, err)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	var cfg admissionregistrationv1.MutatingWebhookConfiguration
	must(t, k8s.Get(ctx, keyOf("", r.WebhookConfig), &cfg))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cfg.Webhooks[0].ClientConfig.CABundle) {
		t.Fatal("no certificate in caBundle")
	}
	for _, tc := range []struct {
		name, serverName string
		wantErr          bool
	}{
		{"the service name is trusted", webhookService + "." + ns + ".svc", false},
		{"the cluster-local name is trusted", webhookService + "." + ns + ".svc.cluster.local", false},
		{"another name is refused", "intruder." + ns + ".svc", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{
				TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots, ServerName: tc.serverName},
				DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
				},
			}
			defer tr.CloseIdleConnections()
			resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + tc.serverName + "/mutate-v1-pod")
			if err == nil {
				_ = resp.Body.Close()
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("GET with server name %s: error %v, want error: %v", tc.serverName, err, tc.wantErr)
			}
		})
	}
}

package podinject

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/version"
)

// serverVersion is a discovery.ServerVersionInterface answering info or
// err.
type serverVersion struct {
	info *version.Info
	err  error
}

func (s serverVersion) ServerVersion() (*version.Info, error) { return s.info, s.err }

func TestNativeSidecarsSupported(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		info    version.Info
		want    bool
		wantErr bool
	}{
		{name: "1.28 is too old", info: version.Info{GitVersion: "v1.28.9"}},
		{name: "1.29 has them", info: version.Info{GitVersion: "v1.29.0"}, want: true},
		{name: "a 1.29 release candidate has them", info: version.Info{GitVersion: "v1.29.0-rc.1"}, want: true},
		{name: "a vendor build of 1.33 has them", info: version.Info{GitVersion: "v1.33.2-eks-a1b2c3"}, want: true},
		{name: "a k3s build of 1.28 does not", info: version.Info{GitVersion: "v1.28.5+k3s1"}},
		{name: "major and minor fields stand in for a bare git version", info: version.Info{GitVersion: "unknown", Major: "1", Minor: "30+"}, want: true},
		{name: "an unreadable version is an error", info: version.Info{GitVersion: "unknown", Minor: "x"}, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := NativeSidecarsSupported(serverVersion{info: &tc.info})
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("NativeSidecarsSupported(%+v) = %v, %v; want %v, error %v", tc.info, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestNativeSidecarsSupportedReportsDiscoveryErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	if _, err := NativeSidecarsSupported(serverVersion{err: boom}); !errors.Is(err, boom) {
		t.Fatalf("error %v, want one wrapping %v", err, boom)
	}
}

package main

import (
	"net/url"
	"regexp"
	"strings"
)

// userinfoRE finds the user information of URLs in free text: scheme://,
// then everything up to the last '@' before the host.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#\s"'<>]*)@`)

// minSecretLen is the shortest password masked wherever it appears, not
// only inside URLs: replacing every occurrence of a very short string would
// garble messages.
const minSecretLen = 4

// masker hides credentials in text shown to the user. The zero masker
// masks URLs only.
type masker struct {
	secrets []string // passwords, as written and percent-decoded
}

// newMasker returns a masker for the credentials in rawURL, which need not
// parse.
func newMasker(rawURL string) masker {
	var m masker
	var infos []string
	for _, sub := range userinfoRE.FindAllStringSubmatch(rawURL, -1) {
		infos = append(infos, sub[2])
	}
	if !strings.Contains(rawURL, "://") {
		// A bare host given with credentials (which is refused): mask
		// them all the same.
		if at := strings.LastIndex(rawURL, "@"); at >= 0 {
			infos = append(infos, rawURL[:at])
		}
	}
	for _, info := range infos {
		_, pass, found := strings.Cut(info, ":")
		if !found {
			pass = info // a single part may well be a password
		}
		m.add(pass)
		if dec, err := url.PathUnescape(pass); err == nil {
			m.add(dec)
		}
	}
	return m
}

func (m *masker) add(secret string) {
	if len(secret) >= minSecretLen {
		m.secrets = append(m.secrets, secret)
	}
}

// mask returns s with the user information of every URL replaced by
// "user:***" (or "***" when it has no ':'), and every known password
// replaced by "***".
func (m masker) mask(s string) string {
	s = userinfoRE.ReplaceAllStringFunc(s, func(match string) string {
		sub := userinfoRE.FindStringSubmatch(match)
		user, _, found := strings.Cut(sub[2], ":")
		if !found {
			return sub[1] + "***@"
		}
		return sub[1] + user + ":***@"
	})
	for _, secret := range m.secrets {
		s = strings.ReplaceAll(s, secret, "***")
	}
	return s
}

package codec

import (
	"reflect"
	"strings"
	"testing"
)

type user struct {
	ID    int               `json:"id"`
	Name  string            `json:"name"`
	Tags  []string          `json:"tags"`
	Attrs map[string]string `json:"attrs"`
}

func TestCodecsRoundTrip(t *testing.T) {
	t.Parallel()
	big := make([]user, 5000) // far past the reference library's 10k-node limit
	for i := range big {
		big[i] = user{ID: i, Name: "u", Tags: []string{"a", "b"}}
	}
	values := []struct {
		name string
		in   any
		out  func() any
	}{
		{"struct", user{ID: 1, Name: "Ada <&>", Tags: []string{"x"}, Attrs: map[string]string{"k": "v"}}, func() any { return new(user) }},
		{"string", "hello", func() any { return new(string) }},
		{"int", 42, func() any { return new(int) }},
		{"large slice", big, func() any { return new([]user) }},
	}
	for _, c := range []Codec{JSON{}, MessagePack{}} {
		for _, v := range values {
			t.Run(c.Name()+"/"+v.name, func(t *testing.T) {
				t.Parallel()
				b, err := c.Marshal(v.in)
				if err != nil {
					t.Fatalf("Marshal: %v", err)
				}
				out := v.out()
				if err := c.Unmarshal(b, out); err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				if got := reflect.ValueOf(out).Elem().Interface(); !reflect.DeepEqual(got, v.in) {
					t.Fatalf("round trip = %#v, want %#v", got, v.in)
				}
			})
		}
	}
}

func TestJSONDoesNotEscapeHTMLOrAppendNewline(t *testing.T) {
	t.Parallel()
	b, err := JSON{}.Marshal("<a>")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `"<a>"`; got != want {
		t.Fatalf("Marshal(<a>) = %s, want %s", got, want)
	}
}

func TestUnmarshalRejectsGarbage(t *testing.T) {
	t.Parallel()
	for _, c := range []Codec{JSON{}, MessagePack{}} {
		var u user
		err := c.Unmarshal([]byte("\xc1\xff{not"), &u)
		if err == nil || !strings.HasPrefix(err.Error(), c.Name()+" codec: ") {
			t.Errorf("%s: Unmarshal(garbage) = %v, want a %q error", c.Name(), err, c.Name()+" codec: ")
		}
	}
}

func TestMessagePackRejectsTrailingBytes(t *testing.T) {
	t.Parallel()
	b, _ := MessagePack{}.Marshal(1)
	var n int
	if err := (MessagePack{}).Unmarshal(append(b, b...), &n); err == nil {
		t.Fatal("Unmarshal of two concatenated values succeeded, want an error")
	}
}

func FuzzUnmarshal(f *testing.F) {
	for _, c := range []Codec{JSON{}, MessagePack{}} {
		b, _ := c.Marshal(user{ID: 1, Name: "x", Tags: []string{"t"}})
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Codec{JSON{}, MessagePack{}} {
			var u user
			_ = c.Unmarshal(data, &u) // must not panic
			var v any
			_ = c.Unmarshal(data, &v)
		}
	})
}

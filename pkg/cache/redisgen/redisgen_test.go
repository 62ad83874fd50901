package redisgen_test

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache/redisgen"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(redistest.Wrap(m)) }

func TestLoadStartsAtZeroAndBumpIncrements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Shared(t).NewClient(t)
	st, err := redisgen.New(redisgen.Options{Client: client, Key: redistest.Prefix(t) + "gen"})
	if err != nil {
		t.Fatal(err)
	}
	if g, err := st.Load(ctx); err != nil || g != 0 {
		t.Fatalf("Load of a missing key = %d, %v; want 0, nil", g, err)
	}
	for want := uint64(1); want <= 3; want++ {
		if g, err := st.Bump(ctx); err != nil || g != want {
			t.Fatalf("Bump = %d, %v; want %d", g, err, want)
		}
	}
	if g, _ := st.Load(ctx); g != 3 {
		t.Fatalf("Load after 3 bumps = %d", g)
	}
}

func TestCorruptGenerationIsAnErrorNotAGuess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	client := redistest.Shared(t).NewClient(t)
	key := redistest.Prefix(t) + "gen"
	if err := client.Set(ctx, key, "-7", 0).Err(); err != nil {
		t.Fatal(err)
	}
	st, _ := redisgen.New(redisgen.Options{Client: client, Key: key})
	if _, err := st.Load(ctx); err == nil || !strings.Contains(err.Error(), "not a generation") {
		t.Fatalf("Load of -7 = %v, want a 'not a generation' error", err)
	}
	if _, err := redisgen.New(redisgen.Options{}); err == nil {
		t.Fatal("New without a client succeeded")
	}
}

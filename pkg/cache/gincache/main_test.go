package gincache_test

import (
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // gin's mode is process-wide; set once, here
	goleak.VerifyTestMain(m)
}

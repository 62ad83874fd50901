package controller

import (
	"sigs.k8s.io/controller-runtime/pkg/config"
)

// controllerConfig lets every test start its own manager: controller names
// must otherwise be unique per process.
func controllerConfig() config.Controller {
	skip := true
	return config.Controller{SkipNameValidation: &skip}
}

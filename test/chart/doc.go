// Package chart tests the Helm chart in charts/layercache without a
// cluster: helm lint --strict, helm template over a matrix of values with
// the rendered objects decoded strictly into their Kubernetes types, the
// values schema, and that hack/helm-sync.sh has been run (the chart's CRDs
// and ClusterRole equal what controller-gen generated). helm is built from
// the Go module proxy by hack/tools-bins.sh, or taken from $HELM.
package chart

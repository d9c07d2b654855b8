/**
 * {@code ukernel k8s}: Kubernetes objects for an app's OCI image ({@link KubernetesManifests}), written as YAML
 * ({@link Yaml}).
 */
package io.ukernel.vmm.k8s;

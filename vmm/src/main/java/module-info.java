/**
 * The microVM and container platforms: image packing, the QEMU and Firecracker backends, OCI images, Kubernetes
 * manifests. The guest init ({@code io.ukernel.vmm.guest}), the container init ({@code io.ukernel.vmm.container})
 * are started by class name, not exported.
 */
module io.ukernel.vmm {
    requires transitive io.ukernel.app;
    requires jdk.unsupported; // sun.misc.Signal: Ctrl-Alt-Del and SIGTERM in the guest and the container

    exports io.ukernel.vmm;
    exports io.ukernel.vmm.firecracker;
    exports io.ukernel.vmm.image;
    exports io.ukernel.vmm.k8s;
    exports io.ukernel.vmm.oci;
    exports io.ukernel.vmm.qemu;
    exports io.ukernel.vmm.spi;
}

package io.ukernel.vmm.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pieces of an image: metadata, kernel inspection and unpacking, modules, the pruned Python. */
class ImagePartsTest {
    @TempDir
    Path tmp;

    static final ImageInfo INFO = new ImageInfo("hello", "ab".repeat(32), "0.1.0", "cd".repeat(32),
            "/ukernel/python/bin/python3.11", "3.11.7", "6.1.0-56-cloud-amd64",
            List.of("/ukernel/modules/virtio.ko", "/ukernel/modules/virtio_net.ko"));

    private byte[] image() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (CpioWriter c = new CpioWriter(out, 0)) {
            c.file(ImageInfo.PATH, 0644, INFO.toBytes());
            c.file("init", 0755, new byte[100]);
        }
        return out.toByteArray();
    }

    @Test
    void imageInfo_readsFromPlainAndGzipImages_andRefusesOthers() throws Exception {
        Path plain = Files.write(tmp.resolve("a.img"), image());
        assertEquals(INFO, ImageInfo.read(plain).orElseThrow());
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(gz)) {
            g.write(image());
        }
        assertEquals(INFO, ImageInfo.read(Files.write(tmp.resolve("b.img"), gz.toByteArray())).orElseThrow());
        assertTrue(ImageInfo.read(Files.writeString(tmp.resolve("c.img"), "not an image")).isEmpty());
        assertEquals(List.of("virtio", "virtio_net"), INFO.moduleNames());
    }

    @Test
    void lz4_decodesLiteralsAndOverlappingMatches() throws Exception {
        byte[] block = {0x32, 'a', 'b', 'c', 3, 0, 0x10, 'd'};
        byte[] dst = new byte[64];
        int n = Lz4Legacy.block(block, 0, block.length, dst);
        assertEquals("abcabcabcd", new String(dst, 0, n, StandardCharsets.US_ASCII));
        ByteBuffer legacy = ByteBuffer.allocate(4 + 4 + block.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        legacy.putInt(Lz4Legacy.MAGIC).putInt(block.length).put(block).putInt(10);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertEquals(10, Lz4Legacy.decompress(legacy.array(), 0, legacy.capacity(), out));
        byte[] corrupt = {0x12, 'a', 9, 0};
        assertThrows(java.io.IOException.class, () -> Lz4Legacy.block(corrupt, 0, corrupt.length, dst));
    }

    @Test
    void guestKernel_missingOrBogus_isAClearError() throws Exception {
        ImageException e = assertThrows(ImageException.class, () -> GuestKernel.locate(tmp.resolve("nope"), Map.of(),
                tmp));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        e = assertThrows(ImageException.class, () -> GuestKernel.locate(null, Map.of(), tmp.resolve("boot")));
        assertTrue(e.getMessage().contains("linux-image-cloud-amd64"), e.getMessage());
        Path bogus = Files.writeString(tmp.resolve("vmlinuz-bogus"), "MZ not a kernel");
        e = assertThrows(ImageException.class, () -> GuestKernel.locate(null, Map.of(GuestKernel.ENV,
                bogus.toString()), tmp));
        assertTrue(e.getMessage().contains("neither a bzImage nor an ELF vmlinux"), e.getMessage());
    }

    @Test
    void guestKernel_hostBzImage_givesItsRelease_andUnpacksToElf() throws Exception {
        Path boot = Path.of("/boot");
        Assumptions.assumeTrue(Files.isDirectory(boot) && Files.list(boot)
                .anyMatch(p -> p.getFileName().toString().startsWith("vmlinuz-") && Files.isReadable(p)),
                "no readable /boot/vmlinuz-* on this host");
        GuestKernel k = GuestKernel.locate(null, Map.of(), boot);
        assertTrue(k.path().getFileName().toString().endsWith(k.release()), k.toString());
        Path vmlinux = tmp.resolve("vmlinux");
        k.extractVmlinux(vmlinux);
        try (InputStream in = Files.newInputStream(vmlinux)) {
            assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, in.readNBytes(4));
        }
        assertTrue(Files.size(vmlinux) > Files.size(k.path()));
    }

    @Test
    void kernelModules_resolveDependenciesFirst_skipBuiltIns() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("6.1.0"));
        Files.writeString(dir.resolve("modules.dep"), """
                kernel/drivers/virtio/virtio_ring.ko:
                kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
                kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko \
                kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
                """.replace("\\\n", ""));
        Files.writeString(dir.resolve("modules.builtin"), "kernel/drivers/net/net_failover.ko\n");
        for (String m : List.of("drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
                "drivers/virtio/virtio_mmio.ko", "drivers/net/virtio_net.ko", "drivers/net/net_failover.ko",
                "net/core/failover.ko")) {
            Files.createDirectories(dir.resolve("kernel/" + m).getParent());
            Files.write(dir.resolve("kernel/" + m), new byte[1]);
        }
        KernelModules.Found f = KernelModules.resolve(dir, KernelModules.NETWORK);
        assertEquals(List.of("virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net"),
                f.files().stream().map(p -> KernelModules.name(p.toString())).toList());
        assertThrows(ImageException.class, () -> KernelModules.resolve(dir, List.of("vsock")));
    }

    @Test
    void pythonTree_prunesWhatWorkersCannotUse() {
        for (String p : List.of("test/test_os.py", "idlelib/x.py", "tkinter/__init__.py", "ensurepip/a.py",
                "lib2to3/x.py", "pydoc_data/topics.py", "site-packages/pip/x.py", "config-3.11-x86_64-linux-gnu/a",
                "unittest/test/test_case.py", "ctypes/test/x.py")) {
            assertTrue(PythonTree.pruned(Path.of(p)), p);
        }
        for (String p : List.of("asyncio/base_events.py", "os.py", "json/__init__.py", "unittest/case.py")) {
            assertTrue(!PythonTree.pruned(Path.of(p)), p);
        }
    }

    @Test
    void pythonTree_marksValidPycsUncheckedAndDropsStaleOnes() throws Exception {
        Path src = Files.writeString(tmp.resolve("mod.py"), "x = 1\n");
        Files.setLastModifiedTime(src, FileTime.fromMillis(1_700_000_000_000L));
        Path cache = Files.createDirectories(tmp.resolve("__pycache__"));
        ByteBuffer h = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        h.putInt(0x0a0d0da7).putInt(0).putInt(1_700_000_000).putInt(6).putInt(42);
        Path pyc = Files.write(cache.resolve("mod.cpython-311.pyc"), h.array());
        byte[] marked = PythonTree.markedPyc(pyc);
        assertEquals(1, ByteBuffer.wrap(marked).order(ByteOrder.LITTLE_ENDIAN).getInt(4), "unchecked hash-based");
        Files.writeString(src, "x = 22\n");
        assertNull(PythonTree.markedPyc(pyc), "stale: the source changed");
        assertNull(PythonTree.markedPyc(Files.write(cache.resolve("mod.cpython-311.opt-1.pyc"), h.array())));
    }
}

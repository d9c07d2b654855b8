/**
 * An app as the user writes it: the manifest ({@code ukernel.toml}) read into a {@link io.ukernel.app.Manifest}
 * by {@link io.ukernel.app.ManifestParser}, the environment file ({@link io.ukernel.app.EnvFile}) and the
 * project template ({@link io.ukernel.app.ProjectTemplate}). The bundle built from it is in
 * {@link io.ukernel.app.bundle}.
 */
package io.ukernel.app;

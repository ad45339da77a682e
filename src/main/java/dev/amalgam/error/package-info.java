/**
 * Errors: the single {@link dev.amalgam.error.AmalgamException} with a kind (which fixes the
 * exit code), a {@link dev.amalgam.error.Where} (file, line:column, key path, tensor, byte
 * offset) and a hint, so that every stage reports bad input the same way and the CLI can render
 * it in one place. Library code throws it and never prints or exits.
 */
package dev.amalgam.error;

/**
 * The command line: picocli commands ({@code merge}, {@code demo}, {@code synth}) with
 * mergekit-yaml's option names, terminal progress and summary, and the one place where errors
 * are rendered and turned into exit codes. No math and no file formats live here.
 */
package dev.amalgam.cli;

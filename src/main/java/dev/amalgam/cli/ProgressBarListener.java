package dev.amalgam.cli;

import dev.amalgam.exec.ProgressListener;
import dev.amalgam.plan.OutputTensor;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A terminal progress bar for a merge: bytes and tensors done, rate and time left. CLI stage;
 * used only when stderr is a terminal.
 */
final class ProgressBarListener implements ProgressListener, AutoCloseable {

    private final AtomicInteger done = new AtomicInteger();
    private volatile ProgressBar bar;
    private volatile int total;

    static boolean terminal() {
        return System.console() != null && System.console().isTerminal();
    }

    @Override
    public void started(int tensors, long bytes) {
        total = tensors;
        bar = new ProgressBarBuilder().setTaskName("merging").setInitialMax(Math.max(1, bytes >> 10))
                .setUnit(" MiB", 1024).setStyle(ProgressBarStyle.ASCII).showSpeed().continuousUpdate().build();
    }

    @Override
    public void tensorDone(OutputTensor tensor) {
        ProgressBar b = bar;
        if (b != null) {
            synchronized (this) {
                b.stepBy(tensor.byteSize() >> 10);
                b.setExtraMessage(String.format(Locale.ROOT, " %d/%d tensors", done.incrementAndGet(), total));
            }
        }
    }

    @Override
    public void tensorsFinished() {
        close();
    }

    @Override
    public synchronized void close() {
        if (bar != null) {
            bar.stepTo(bar.getMax());
            bar.close();
            bar = null;
        }
    }
}

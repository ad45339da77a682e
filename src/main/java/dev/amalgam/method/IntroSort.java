package dev.amalgam.method;

/**
 * An ascending sort of (key, index) pairs that reproduces, step for step, the introsort of the
 * GNU C++ library's {@code std::sort} — what torch's CPU {@code argsort} runs for 16-bit float
 * rows — so that elements of equal magnitude come out in exactly the order mergekit's DELLA
 * ranks them. Method stage; used in the {@code --rng mergekit} mode, where the keep decisions
 * must be bit-identical. The comparison puts NaN last, as torch's ascending key comparison does.
 *
 * <p>The algorithm: quicksort with a median-of-three pivot (second, middle and last elements,
 * moved to the front) and an unguarded partition, recursing on the right part and looping on
 * the left, until parts are at most 16 long; a heapsort when the depth exceeds 2·⌊log₂ n⌋; then
 * one insertion sort over the whole range (guarded for the first 16, unguarded after).
 */
final class IntroSort {

    private static final int THRESHOLD = 16;

    private final float[] key;
    private final int[] idx;

    private IntroSort(float[] key, int[] idx) {
        this.key = key;
        this.idx = idx;
    }

    /** Sorts {@code key[0..n)} ascending, carrying {@code idx} along. */
    static void sort(float[] key, int[] idx, int n) {
        if (n <= 1) {
            return;
        }
        IntroSort s = new IntroSort(key, idx);
        s.introsortLoop(0, n, 2 * (31 - Integer.numberOfLeadingZeros(n)));
        s.finalInsertionSort(0, n);
    }

    private static boolean less(float a, float b) {
        return (!Float.isNaN(a) && Float.isNaN(b)) || a < b;
    }

    private boolean less(int i, int j) {
        return less(key[i], key[j]);
    }

    private void swap(int i, int j) {
        float k = key[i];
        key[i] = key[j];
        key[j] = k;
        int x = idx[i];
        idx[i] = idx[j];
        idx[j] = x;
    }

    private void introsortLoop(int first, int last, int depth) {
        while (last - first > THRESHOLD) {
            if (depth == 0) {
                heapSort(first, last);
                return;
            }
            depth--;
            int cut = partitionPivot(first, last);
            introsortLoop(cut, last, depth);
            last = cut;
        }
    }

    private int partitionPivot(int first, int last) {
        int mid = first + (last - first) / 2;
        moveMedianToFirst(first, first + 1, mid, last - 1);
        return unguardedPartition(first + 1, last, first);
    }

    private void moveMedianToFirst(int result, int a, int b, int c) {
        if (less(a, b)) {
            if (less(b, c)) {
                swap(result, b);
            } else if (less(a, c)) {
                swap(result, c);
            } else {
                swap(result, a);
            }
        } else if (less(a, c)) {
            swap(result, a);
        } else if (less(b, c)) {
            swap(result, c);
        } else {
            swap(result, b);
        }
    }

    private int unguardedPartition(int first, int last, int pivot) {
        while (true) {
            while (less(first, pivot)) {
                first++;
            }
            last--;
            while (less(pivot, last)) {
                last--;
            }
            if (first >= last) {
                return first;
            }
            swap(first, last);
            first++;
        }
    }

    private void finalInsertionSort(int first, int last) {
        if (last - first > THRESHOLD) {
            insertionSort(first, first + THRESHOLD);
            for (int i = first + THRESHOLD; i < last; i++) {
                unguardedLinearInsert(i);
            }
        } else {
            insertionSort(first, last);
        }
    }

    private void insertionSort(int first, int last) {
        for (int i = first + 1; i < last; i++) {
            if (less(i, first)) {
                float k = key[i];
                int x = idx[i];
                System.arraycopy(key, first, key, first + 1, i - first);
                System.arraycopy(idx, first, idx, first + 1, i - first);
                key[first] = k;
                idx[first] = x;
            } else {
                unguardedLinearInsert(i);
            }
        }
    }

    private void unguardedLinearInsert(int last) {
        float k = key[last];
        int x = idx[last];
        int next = last - 1;
        while (less(k, key[next])) {
            key[last] = key[next];
            idx[last] = idx[next];
            last = next;
            next--;
        }
        key[last] = k;
        idx[last] = x;
    }

    /** {@code std::partial_sort(first, last, last)}: make a heap, then sort it. */
    private void heapSort(int first, int last) {
        int len = last - first;
        if (len >= 2) {
            for (int parent = (len - 2) / 2; ; parent--) {
                adjustHeap(first, parent, len, key[first + parent], idx[first + parent]);
                if (parent == 0) {
                    break;
                }
            }
        }
        while (last - first > 1) {
            last--;
            float k = key[last];
            int x = idx[last];
            key[last] = key[first];
            idx[last] = idx[first];
            adjustHeap(first, 0, last - first, k, x);
        }
    }

    private void adjustHeap(int first, int hole, int len, float k, int x) {
        int top = hole;
        int child = hole;
        while (child < (len - 1) / 2) {
            child = 2 * (child + 1);
            if (less(first + child, first + child - 1)) {
                child--;
            }
            key[first + hole] = key[first + child];
            idx[first + hole] = idx[first + child];
            hole = child;
        }
        if ((len & 1) == 0 && child == (len - 2) / 2) {
            child = 2 * (child + 1);
            key[first + hole] = key[first + child - 1];
            idx[first + hole] = idx[first + child - 1];
            hole = child - 1;
        }
        int parent = (hole - 1) / 2;
        while (hole > top && less(key[first + parent], k)) {
            key[first + hole] = key[first + parent];
            idx[first + hole] = idx[first + parent];
            hole = parent;
            parent = (hole - 1) / 2;
        }
        key[first + hole] = k;
        idx[first + hole] = x;
    }
}

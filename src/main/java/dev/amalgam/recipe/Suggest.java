package dev.amalgam.recipe;

import java.util.Collection;
import java.util.Locale;

/**
 * "Did you mean" for the recipe stage and its callers: the candidate closest to a misspelt word
 * by edit distance (optimal string alignment, case-insensitive).
 */
public final class Suggest {

    private Suggest() {
    }

    /**
     * The candidate closest to {@code word}, when its edit distance is at most
     * {@code max(2, word.length() / 3)}; ties go to the earlier candidate. Null when none is close.
     */
    public static String closest(String word, Collection<String> candidates) {
        if (word == null || candidates == null) {
            return null;
        }
        int limit = Math.max(2, word.length() / 3);
        String lower = word.toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : candidates) {
            if (candidate == null) {
                continue;
            }
            int d = distance(lower, candidate.toLowerCase(Locale.ROOT));
            if (d <= limit && d < bestDistance) {
                best = candidate;
                bestDistance = d;
            }
        }
        return best;
    }

    /** Levenshtein distance in which swapping two adjacent characters also costs one. */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) {
            d[i][0] = i;
        }
        for (int j = 0; j <= b.length(); j++) {
            d[0][j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                int v = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    v = Math.min(v, d[i - 2][j - 2] + 1);
                }
                d[i][j] = v;
            }
        }
        return d[a.length()][b.length()];
    }
}

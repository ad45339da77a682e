package dev.amalgam.method;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The registry: one explicit list of every merge method Amalgam implements. Method stage; the
 * planner looks names up here and the model card takes names and links from here.
 */
public final class Methods {

    private static final List<MergeMethod> ALL = List.of(
            new Linear(),
            new Slerp(),
            new NuSlerp(),
            new MultiSlerp(),
            new Karcher(),
            new Passthrough(),
            TaskArithmetic.taskArithmetic(),
            TaskArithmetic.ties(),
            TaskArithmetic.dareTies(),
            TaskArithmetic.dareLinear(),
            TaskArithmetic.breadcrumbs(),
            TaskArithmetic.breadcrumbsTies(),
            TaskArithmetic.della(),
            TaskArithmetic.dellaLinear(),
            new Sce(),
            new Ram(),
            new RamPlusTl(),
            new ModelStock(),
            new NearSwap(),
            new ArceeFusion());

    private static final Map<String, MergeMethod> BY_NAME = ALL.stream()
            .collect(Collectors.toUnmodifiableMap(MergeMethod::name, Function.identity()));

    private Methods() {
    }

    public static List<MergeMethod> all() {
        return ALL;
    }

    /** The method with that name, or null. */
    public static MergeMethod byName(String name) {
        return BY_NAME.get(name);
    }

    public static List<String> names() {
        return ALL.stream().map(MergeMethod::name).sorted().toList();
    }
}

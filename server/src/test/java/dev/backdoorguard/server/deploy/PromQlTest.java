package dev.backdoorguard.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PromQlTest {
    @Test
    void findsSeriesNamesButNotFunctionsLabelsOrKeywords() {
        String expr = "sum by (model, le) (rate(guard_a_bucket{model=~\"$model\", le!=\"x_y\"}[$__rate_interval]))"
                + " / on (model) group_left () sum without (class) (increase(guard_b_total[1d] offset 1h))"
                + " > 3 * rec:guard_c:ratio_rate5m and bool guard_d unless count(guard_e) by (job) == 1e3";

        assertThat(PromQl.metricNames(expr))
                .containsExactly("guard_a_bucket", "guard_b_total", "rec:guard_c:ratio_rate5m", "guard_d", "guard_e");
    }

    @Test
    void aBareSelectorIsAName() {
        assertThat(PromQl.metricNames("up{job=\"guard\"} == 0")).containsExactly("up");
        assertThat(PromQl.metricNames("process_cpu_usage")).containsExactly("process_cpu_usage");
    }

    @Test
    void histogramQuantileKeepsOnlyTheBucketSeries() {
        assertThat(PromQl.metricNames(
                        "histogram_quantile(0.99, sum by (le) (rate(guard_inference_request_seconds_bucket[5m])))"))
                .containsExactly("guard_inference_request_seconds_bucket");
    }
}

"""The words of the report and its figure, in English and Chinese: one table, nothing scattered.

:data:`TEXT` maps a language code (``"en"``, ``"zh"``) to the strings that
:mod:`nqpf_helpers.report` puts into its template context and that
:func:`nqpf_helpers.plots.trend_figure` puts on its axes.  Only words change
with the language; numbers, column names of the data, file names and the
layout of the results folder stay the same.

The Chinese terms are the ones used in the Chinese literature on green
productivity: 绿色全要素生产率 (green total factor productivity, GTFP),
新质生产力 (new quality productive forces, NQPF), 投入 (inputs), 期望产出
(desirable outputs), 非期望产出 (undesirable outputs), 规模报酬可变/不变
(variable/constant returns to scale), 增长路径 (growth path).
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import InputError

__all__ = ["LANGS", "TEXT", "text"]

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "html_lang": "en",
        "title": "NQPF report",
        "intro": (
            "GTFP ({source}), a growth path per unit from the LSTM protocol {protocol} and "
            "NQPF = actual GTFP / predicted GTFP, for {n_units} units, {first}-{last}."
        ),
        "files": "Full results: {results}; settings: {settings}.",
        "source_sbm": "SBM efficiency with undesirable outputs",
        "source_given": "given column {column}",
        "h_model": "Model",
        "h_trends": "Trends",
        "h_map": "Map",
        "h_units": "Units after the training years",
        "h_units_last": "Units after the training years (last year {year})",
        "h_warnings": "Warnings about the data",
        "warnings_intro": (
            "These cells are at least 1,000 times larger or smaller than both their unit's other years and "
            "their column's median: possibly a slip of units. The results below include them as they are; "
            "check them in the input file."
        ),
        "h_settings": "Settings",
        "setting": "setting",
        "value": "value",
        "inputs": "Inputs",
        "good": "Desirable outputs",
        "bad": "Undesirable outputs",
        "rts": "Returns to scale",
        "rts_vrs": "variable returns to scale (VRS)",
        "rts_crs": "constant returns to scale (CRS)",
        "frontier": "Frontier",
        "frontier_global": "global (all years)",
        "frontier_contemporaneous": "contemporaneous (each year)",
        "frontier_sequential": "sequential (all years so far)",
        "frontier_window": "window ({window} years)",
        "gtfp_source": "GTFP",
        "protocol": "Growth-path protocol",
        "seeds": "Networks per unit (seeds)",
        "train_until": "Last training year",
        "encoding": "File encoding",
        "none": "(none)",
        "mean_nqpf": "mean NQPF",
        "last_nqpf": "last NQPF",
        "mean_gtfp": "mean GTFP",
        "region_code": "region code",
        "figure_alt": "GTFP and NQPF trends",
        "map_title": "map",
        "map_open": "Open the map",
        "map_note": "NQPF in {year} ({what}).",
        "map_china": "Chinese regions",
        "map_world": "countries",
        "map_unmatched": "Not on the map (no boundary): {units}.",
        "map_names": "Units given as names were matched to administrative codes (column region_code).",
        "no_map_flag": "No map (--no-map).",
        "no_map_units": (
            "No map: the units are neither Chinese region names or 6-digit administrative codes "
            "nor ISO3 country codes."
        ),
        "no_map_module": "No map: nqpf_helpers.maps is not available in this installation.",
        # figure
        "fig_actual": "actual GTFP (mean)",
        "fig_path": "growth path (mean)",
        "fig_left": "GTFP: units (grey), mean and growth path",
        "fig_training_ends": "training ends",
        "fig_band": "10th-90th percentile",
        "fig_median": "median",
        "fig_right": "NQPF after the training years",
    },
    "zh": {
        "html_lang": "zh-CN",
        "title": "新质生产力（NQPF）测算报告",
        "intro": (
            "绿色全要素生产率（GTFP，{source}）、由 LSTM 预测协议 {protocol} 得到的各单元增长路径，"
            "以及新质生产力 NQPF = 实际 GTFP / 预测 GTFP；共 {n_units} 个单元，{first}–{last} 年。"
        ),
        "files": "完整结果：{results}；全部设置：{settings}。",
        "source_sbm": "含非期望产出的 SBM 效率",
        "source_given": "取自已有列 {column}",
        "h_model": "模型设定",
        "h_trends": "趋势",
        "h_map": "地图",
        "h_units": "训练期之后的各单元",
        "h_units_last": "训练期之后的各单元（最后一年为 {year} 年）",
        "h_warnings": "数据提示",
        "warnings_intro": (
            "以下单元格的数值与同一单元其他年份及该列中位数均相差 1000 倍以上，可能是单位录入错误"
            "（例如以元代替亿元）。下列结果按原值计算，请在输入文件中核对（明细为英文）。"
        ),
        "h_settings": "全部设置",
        "setting": "设置项",
        "value": "取值",
        "inputs": "投入",
        "good": "期望产出",
        "bad": "非期望产出",
        "rts": "规模报酬",
        "rts_vrs": "规模报酬可变（VRS）",
        "rts_crs": "规模报酬不变（CRS）",
        "frontier": "生产前沿",
        "frontier_global": "全局前沿（全部年份）",
        "frontier_contemporaneous": "当期前沿（逐年）",
        "frontier_sequential": "序列前沿（截至当年的全部年份）",
        "frontier_window": "窗口前沿（{window} 年）",
        "gtfp_source": "绿色全要素生产率（GTFP）",
        "protocol": "增长路径预测协议",
        "seeds": "每个单元的网络数（随机种子）",
        "train_until": "训练期最后一年",
        "encoding": "文件编码",
        "none": "（无）",
        "mean_nqpf": "NQPF 均值",
        "last_nqpf": "最后一年 NQPF",
        "mean_gtfp": "GTFP 均值",
        "region_code": "行政区划代码",
        "figure_alt": "绿色全要素生产率与新质生产力的趋势",
        "map_title": "地图",
        "map_open": "在新页面打开地图",
        "map_note": "{year} 年新质生产力（{what}）。",
        "map_china": "中国行政区",
        "map_world": "国家",
        "map_unmatched": "无边界、未能上图的单元：{units}。",
        "map_names": "以名称给出的单元已匹配为行政区划代码（见 region_code 列）。",
        "no_map_flag": "未绘制地图（--no-map）。",
        "no_map_units": "未绘制地图：单元既不是中国行政区名称或 6 位行政区划代码，也不是 ISO3 国家代码。",
        "no_map_module": "未绘制地图：当前安装中没有 nqpf_helpers.maps。",
        # figure
        "fig_actual": "实际 GTFP（均值）",
        "fig_path": "增长路径（均值）",
        "fig_left": "绿色全要素生产率：各单元（灰）、均值与增长路径",
        "fig_training_ends": "训练期结束",
        "fig_band": "第 10–90 百分位",
        "fig_median": "中位数",
        "fig_right": "训练期之后的新质生产力（NQPF）",
    },
}
"""Report and figure strings by language."""

LANGS = tuple(TEXT)
"""Supported languages."""


def text(lang: str = "en") -> Mapping[str, str]:
    """The strings of one language.

    Raises
    ------
    InputError
        Unknown language (the message lists :data:`LANGS`).
    """
    if lang not in TEXT:
        raise InputError(f"unknown language {lang!r}; choose one of {list(LANGS)} (e.g. --lang zh).")
    return TEXT[lang]

import Foundation

/// A line chart over the run's time axis as inline SVG, with the faults drawn as
/// bands: the fault itself dark, the time until the system was whole again light.
///
/// It draws only what it is given and escapes every label, so a process name or
/// fault detail cannot inject markup. Coordinates are plain numbers in a fixed
/// viewBox; the page scales it to its width.
struct SvgChart {
    struct Series {
        var name: String
        /// Points in time order; a nil y breaks the line (a restart, a window with no data).
        var points: [(x: Double, y: Double?)]
    }

    struct Band {
        /// The label drawn on the band ("F1"): the fault's number in the timeline table.
        var label: String
        var title: String
        var start: Double
        var end: Double
        /// When the system was whole again; nil: never (the band runs to the end).
        var recoveredAt: Double?
    }

    var title: String
    var yLabel: String
    var xMax: Double
    var logY = false
    var series: [Series]
    var bands: [Band]

    static let palette = [
        "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#6b6b6b",
    ]
    private let width = 900.0
    private let height = 300.0
    private let left = 64.0
    private let right = 16.0
    private let top = 28.0
    private let bottom = 40.0

    /// A `<figure>` with the SVG and an HTML legend.
    func html() -> String {
        let values = series.flatMap { $0.points.compactMap(\.y) }.filter { !logY || $0 > 0 }
        var svg = """
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" \
            aria-label="\(ReportText.html(title))">
            <title>\(ReportText.html(title))</title>\n
            """
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" "
        svg += "class=\"plot\"/>\n"
        svg += bandsSvg()
        if values.isEmpty {
            svg += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(top + plotHeight / 2))\" class=\"nodata\">"
            svg += "no data</text>\n"
            svg += xAxisSvg()
        } else {
            let scale = YScale(values: values, log: logY)
            svg += xAxisSvg() + yAxisSvg(scale)
            for (index, one) in series.enumerated() { svg += lineSvg(one, color: color(index), scale: scale) }
        }
        svg += "</svg>\n"
        var legend = "<ul class=\"legend\">"
        for (index, one) in series.enumerated() {
            legend += "<li><span class=\"swatch\" style=\"background:\(color(index))\"></span>"
            legend += "\(ReportText.html(one.name))</li>"
        }
        if !bands.isEmpty {
            legend += "<li><span class=\"swatch fault\"></span>fault</li>"
            legend += "<li><span class=\"swatch recovery\"></span>until whole again</li>"
        }
        legend += "</ul>"
        return "<figure><figcaption>\(ReportText.html(title))</figcaption>\n\(svg)\(legend)</figure>\n"
    }

    private var plotWidth: Double { width - left - right }
    private var plotHeight: Double { height - top - bottom }
    private var xSpan: Double { max(xMax, 1) }

    private func color(_ index: Int) -> String { Self.palette[index % Self.palette.count] }
    private func x(_ value: Double) -> Double { left + min(max(value, 0), xSpan) / xSpan * plotWidth }
    private func f(_ value: Double) -> String { String(format: "%.1f", value) }

    private func bandsSvg() -> String {
        var out = ""
        for band in bands {
            let start = x(band.start)
            let end = max(x(band.end), start + 2)
            let recovered = band.recoveredAt.map(x) ?? x(xSpan)
            let title = "<title>\(ReportText.html(band.title))</title>"
            if recovered > end {
                out += "<rect class=\"recovery\" x=\"\(f(end))\" y=\"\(f(top))\" width=\"\(f(recovered - end))\" "
                out += "height=\"\(f(plotHeight))\">\(title)</rect>\n"
            }
            out += "<rect class=\"fault\" x=\"\(f(start))\" y=\"\(f(top))\" width=\"\(f(end - start))\" "
            out += "height=\"\(f(plotHeight))\">\(title)</rect>\n"
            out +=
                "<text class=\"bandlabel\" x=\"\(f(start))\" y=\"\(f(top - 6))\">\(ReportText.html(band.label))</text>\n"
        }
        return out
    }

    private func xAxisSvg() -> String {
        let step = niceStep(xSpan / 8)
        var out = ""
        var tick = 0.0
        while tick <= xSpan + step / 1000 {
            let px = x(tick)
            out +=
                "<line class=\"grid\" x1=\"\(f(px))\" y1=\"\(f(top))\" x2=\"\(f(px))\" y2=\"\(f(top + plotHeight))\"/>"
            out +=
                "<text class=\"xtick\" x=\"\(f(px))\" y=\"\(f(top + plotHeight + 16))\">\(compactNumber(tick))</text>\n"
            tick += step
        }
        out +=
            "<text class=\"axislabel\" x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 4))\">seconds into the run</text>\n"
        return out
    }

    private func yAxisSvg(_ scale: YScale) -> String {
        var out = ""
        for tick in scale.ticks {
            let py = y(tick, scale)
            out +=
                "<line class=\"grid\" x1=\"\(f(left))\" y1=\"\(f(py))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(py))\"/>"
            out += "<text class=\"ytick\" x=\"\(f(left - 6))\" y=\"\(f(py + 4))\">\(YScale.label(tick))</text>\n"
        }
        out += "<text class=\"axislabel\" transform=\"translate(14 \(f(top + plotHeight / 2))) rotate(-90)\">"
        out += "\(ReportText.html(yLabel))</text>\n"
        return out
    }

    private func y(_ value: Double, _ scale: YScale) -> Double {
        top + plotHeight - scale.fraction(value) * plotHeight
    }

    /// One polyline per unbroken stretch; dots too when the series is sparse.
    private func lineSvg(_ one: Series, color: String, scale: YScale) -> String {
        var out = ""
        var stretch: [String] = []
        func flush() {
            if stretch.count >= 2 {
                out += "<polyline class=\"line\" stroke=\"\(color)\" points=\"\(stretch.joined(separator: " "))\"/>\n"
            }
            stretch = []
        }
        let sparse = one.points.count < 40
        for point in one.points {
            guard let value = point.y, !logY || value > 0 else {
                flush()
                continue
            }
            let coordinates = "\(f(x(point.x))),\(f(y(value, scale)))"
            stretch.append(coordinates)
            if sparse {
                out += "<circle cx=\"\(f(x(point.x)))\" cy=\"\(f(y(value, scale)))\" r=\"3\" fill=\"\(color)\">"
                out +=
                    "<title>\(ReportText.html(one.name)): \(YScale.label(value)) at \(compactNumber(point.x.rounded())) s</title></circle>\n"
            }
        }
        flush()
        return out
    }
}

/// A linear axis from 0 to a nice maximum, or a log axis over whole decades.
struct YScale {
    let log: Bool
    let low: Double
    let high: Double
    let ticks: [Double]

    init(values: [Double], log: Bool) {
        self.log = log
        let maximum = values.max() ?? 1
        if log {
            let lowDecade = floor(log10(max(values.min() ?? 1, 1e-3)))
            let highDecade = max(ceil(log10(max(maximum, 1e-3))), lowDecade + 1)
            low = pow(10, lowDecade)
            high = pow(10, highDecade)
            ticks = stride(from: lowDecade, through: highDecade, by: 1).map { pow(10, $0) }
        } else {
            let step = niceStep(max(maximum, 1e-9) / 4)
            low = 0
            high = max(step * (maximum / step).rounded(.up), step)
            ticks = stride(from: 0, through: high + step / 1000, by: step).map { $0 }
        }
    }

    func fraction(_ value: Double) -> Double {
        let raw = log ? (log10(value) - log10(low)) / (log10(high) - log10(low)) : (value - low) / (high - low)
        return min(max(raw, 0), 1)
    }

    static func label(_ value: Double) -> String {
        value >= 10 || value == value.rounded() ? compactNumber(value.rounded()) : ReportText.ms(value)
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
func niceStep(_ raw: Double) -> Double {
    guard raw > 0 else { return 1 }
    let magnitude = pow(10, floor(log10(raw)))
    for factor in [1.0, 2, 5, 10] where factor * magnitude >= raw { return factor * magnitude }
    return 10 * magnitude
}

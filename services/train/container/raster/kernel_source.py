"""C++ source of the CPU tile rasterizer (forward and hand-written backward).

Kept as a Python string so it ships inside the wheel with the package. `kernel.py` compiles it
with the system C++ compiler on first use and caches the shared library per user.

Semantics follow gsplat's `rasterize_to_pixels` CUDA kernels exactly:
- pixel centres at (x + 0.5, y + 0.5); sigma = 0.5 (a dx^2 + c dy^2) + b dx dy;
- alpha = min(0.999, opacity exp(-sigma)), skipped when sigma < 0 or alpha < 1/255;
- front to back, a pixel stops before the Gaussian that would drop its transmittance to <= 1e-4;
- the backward walks each pixel's list back to front, rebuilding T by division.
Work is organised per 16x16 tile, Gaussian-outer and pixel-inner: each Gaussian only visits the
pixels of its tile that lie inside its ellipse of alpha >= 1/255 (exact culling, so no result
changes), and a tile stops as soon as all its pixels are done.
"""

SOURCE = r"""
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include <algorithm>
#ifdef _OPENMP
#include <omp.h>
#endif

static const double ALPHA_T = 1.0 / 255.0;

// exp(x) for x <= 0, branch-free so the span loops vectorise. float: range reduction to
// 2^(n + f), |f| <= 0.5, and a degree-7 Taylor series of 2^f (relative error < 1e-7).
// double (tests, gradcheck): the libm exp.
template <typename S> static inline S sp_exp(S x) { return std::exp(x); }
template <> inline float sp_exp<float>(float x) {
    x = x < -87.0f ? -87.0f : x;
    const float t = x * 1.4426950408889634f;
    const float n = __builtin_rintf(t);
    const float f = (t - n) * 0.6931471805599453f;  // natural-log units, |f| <= 0.347
    float p = 1.0f + f * (1.0f + f * (0.5f + f * (0.16666667f + f * (0.041666668f + f * (0.008333334f
            + f * (0.0013888889f + f * 0.00019841270f))))));
    const int32_t bits = ((int32_t)n + 127) << 23;
    return p * __builtin_bit_cast(float, bits);
}

extern "C" int sp_abi_version() { return 7; }

// Counting sort of (tile, gaussian) pairs. `order` lists visible gaussians front to back, so
// every tile's list comes out depth-sorted. rect: [N, 4] tile x0, y0, x1, y1 (exclusive).
extern "C" void sp_bin_tiles(int32_t n_order, const int32_t* order, const int32_t* rect,
                             int32_t tiles_x, int32_t tiles_y, int64_t* offsets, int32_t* ids) {
    const int64_t n_tiles = (int64_t)tiles_x * tiles_y;
    std::memset(offsets, 0, sizeof(int64_t) * (n_tiles + 1));
    for (int32_t i = 0; i < n_order; ++i) {
        const int32_t* r = rect + 4 * (int64_t)order[i];
        for (int32_t ty = r[1]; ty < r[3]; ++ty)
            for (int32_t tx = r[0]; tx < r[2]; ++tx) offsets[(int64_t)ty * tiles_x + tx + 1]++;
    }
    for (int64_t t = 0; t < n_tiles; ++t) offsets[t + 1] += offsets[t];
    std::vector<int64_t> cursor(offsets, offsets + n_tiles);
    for (int32_t i = 0; i < n_order; ++i) {
        const int32_t g = order[i];
        const int32_t* r = rect + 4 * (int64_t)g;
        for (int32_t ty = r[1]; ty < r[3]; ++ty)
            for (int32_t tx = r[0]; tx < r[2]; ++tx) ids[cursor[(int64_t)ty * tiles_x + tx]++] = g;
    }
}

// For each pixel row r of a tile, the columns [J0[r], J1[r]] that can have alpha >= 1/255 for a
// Gaussian (J0 > J1: none): the exact ellipse 0.5 a u^2 + b u w + 0.5 c w^2 <= smax, widened by a
// pixel against rounding. Rows are independent, so this vectorises too.
template <typename S>
static inline bool row_spans(S mx, S my, S a, S b, S c, S smax, int ty0, int th, int tx0, int tx1,
                             int* J0, int* J1) {
    if (!(a > S(0))) return false;
    const S inv_a = S(1) / a;
    const S lo_clamp = S(tx0 - 2), hi_clamp = S(tx1 + 2);
    int any = 0;
#pragma omp simd reduction(| : any)
    for (int r = 0; r < th; ++r) {
        const S dy = (S(ty0 + r) + S(0.5)) - my;
        const S disc = b * b * dy * dy - a * (c * dy * dy - S(2) * smax);
        const S sq = std::sqrt(std::max(disc, S(0)));
        S lo = mx + (-b * dy - sq) * inv_a - S(0.5);
        S hi = mx + (-b * dy + sq) * inv_a - S(0.5);
        lo = std::min(std::max(lo, lo_clamp), hi_clamp);
        hi = std::min(std::max(hi, lo_clamp), hi_clamp);
        const int j0 = std::max(tx0, (int)std::floor(lo) - 1);
        const int j1 = std::min(tx1 - 1, (int)std::ceil(hi) + 1);
        const bool ok = disc >= S(0);
        J0[r] = ok ? j0 : 1;
        J1[r] = ok ? j1 : 0;
        any |= (ok & (j0 <= j1)) ? 1 : 0;
    }
    return any != 0;
}

// Per-pixel state of one tile is kept as planes (structure of arrays) so the span loops below,
// which touch consecutive pixels of one row, run as masked SIMD loops.
template <typename S, int DD>
static void forward_impl(int W, int H, int tile, int Drt, const S* means2d, const S* conics,
                         const S* colors, const S* opac, const int64_t* offsets, const int32_t* ids,
                         S* out_color, S* out_alpha, int32_t* last, int nthreads) {
    const int D = DD > 0 ? DD : Drt;
    const int tiles_x = (W + tile - 1) / tile, tiles_y = (H + tile - 1) / tile;
    const int n_tiles = tiles_x * tiles_y;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (int t = 0; t < n_tiles; ++t) {
        const int tx0 = (t % tiles_x) * tile, ty0 = (t / tiles_x) * tile;
        const int tx1 = std::min(W, tx0 + tile), ty1 = std::min(H, ty0 + tile);
        const int tw = tx1 - tx0, th = ty1 - ty0, npix = tw * th;
        std::vector<S> T(npix, S(1)), acc((size_t)npix * D, S(0));
        std::vector<int32_t> lst(npix, -1), done(npix, 0);
        S* Tp = T.data(); S* accp = acc.data(); int32_t* lp = lst.data(); int32_t* dp = done.data();
        int n_done = 0;
        const int64_t start = offsets[t], end = offsets[t + 1];
        for (int64_t k = start; k < end && n_done < npix; ++k) {
            const int32_t g = ids[k];
            const S mx = means2d[2 * g], my = means2d[2 * g + 1];
            const S a = conics[3 * g], b = conics[3 * g + 1], c = conics[3 * g + 2];
            const S o = opac[g];
            if (o * S(255) <= S(1)) continue;
            const S smax = std::log(o * S(255)) + S(1e-3);
            S col[16];
            for (int d = 0; d < D; ++d) col[d] = colors[(int64_t)D * g + d];
            const int32_t kl = (int32_t)(k - start);
            int J0[64], J1[64];
            if (!row_spans<S>(mx, my, a, b, c, smax, ty0, th, tx0, tx1, J0, J1)) continue;
            for (int y = ty0; y < ty1; ++y) {
                const int j0 = J0[y - ty0], j1 = J1[y - ty0];
                if (j0 > j1) continue;
                const S dy = my - (S(y) + S(0.5));
                const int base = (y - ty0) * tw - tx0;
                int stops = 0;
#pragma omp simd reduction(+ : stops)
                for (int x = j0; x <= j1; ++x) {
                    const int p = base + x;
                    const S dx = mx - (S(x) + S(0.5));
                    const S sigma = S(0.5) * (a * dx * dx + c * dy * dy) + b * dx * dy;
                    const S alpha = std::min(S(0.999), o * sp_exp<S>(-sigma));
                    const bool ok = (dp[p] == 0) & (sigma >= S(0)) & (alpha >= S(ALPHA_T));
                    const S Tc = Tp[p];
                    const S nT = Tc * (S(1) - alpha);
                    const bool stop = ok & (nT <= S(1e-4));
                    const bool use = ok & !stop;
                    const S vis = use ? alpha * Tc : S(0);
                    for (int d = 0; d < D; ++d) accp[(size_t)d * npix + p] += col[d] * vis;
                    Tp[p] = use ? nT : Tc;
                    lp[p] = use ? kl : lp[p];
                    dp[p] = stop ? 1 : dp[p];
                    stops += stop ? 1 : 0;
                }
                n_done += stops;
            }
        }
        for (int yy = 0; yy < th; ++yy)
            for (int xx = 0; xx < tw; ++xx) {
                const int p = yy * tw + xx;
                const int64_t pix = (int64_t)(ty0 + yy) * W + (tx0 + xx);
                for (int d = 0; d < D; ++d) out_color[pix * D + d] = accp[(size_t)d * npix + p];
                out_alpha[pix] = S(1) - Tp[p];
                last[pix] = lp[p];
            }
    }
}

template <typename S, int DD>
static void backward_impl(int N, int W, int H, int tile, int Drt, const S* means2d, const S* conics,
                          const S* colors, const S* opac, const int64_t* offsets, const int32_t* ids,
                          const S* out_alpha, const int32_t* last, const S* v_color, const S* v_alpha,
                          S* v_means2d, S* v_conics, S* v_colors, S* v_opac, int nthreads) {
    const int D = DD > 0 ? DD : Drt;
    const int tiles_x = (W + tile - 1) / tile, tiles_y = (H + tile - 1) / tile;
    const int n_tiles = tiles_x * tiles_y;
    int nt = 1;
#ifdef _OPENMP
    nt = std::max(1, nthreads);
#endif
    // Thread 0 writes straight into the outputs; others into private buffers summed at the end.
    const int64_t per = (int64_t)N * (2 + 3 + D + 1);
    std::vector<S> extra((size_t)(nt - 1) * per, S(0));
#pragma omp parallel num_threads(nt)
    {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        S *gm = v_means2d, *gc = v_conics, *gcol = v_colors, *go = v_opac;
        if (tid > 0) {
            S* base = extra.data() + (size_t)(tid - 1) * per;
            gm = base; gc = gm + 2 * (int64_t)N; gcol = gc + 3 * (int64_t)N; go = gcol + (int64_t)D * N;
        }
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < n_tiles; ++t) {
            const int tx0 = (t % tiles_x) * tile, ty0 = (t / tiles_x) * tile;
            const int tx1 = std::min(W, tx0 + tile), ty1 = std::min(H, ty0 + tile);
            const int tw = tx1 - tx0, th = ty1 - ty0, npix = tw * th;
            std::vector<S> T(npix), Tfin(npix), buf((size_t)npix * D, S(0)), vc((size_t)npix * D), va(npix);
            std::vector<int32_t> lst(npix);
            S* Tp = T.data(); S* Tf = Tfin.data(); S* bp = buf.data(); S* vcp = vc.data(); S* vap = va.data();
            int32_t* lp = lst.data();
            int32_t kmax = -1;
            for (int yy = 0; yy < th; ++yy)
                for (int xx = 0; xx < tw; ++xx) {
                    const int p = yy * tw + xx;
                    const int64_t pix = (int64_t)(ty0 + yy) * W + (tx0 + xx);
                    Tf[p] = Tp[p] = S(1) - out_alpha[pix];
                    lp[p] = last[pix];
                    kmax = std::max(kmax, lp[p]);
                    for (int d = 0; d < D; ++d) vcp[(size_t)d * npix + p] = v_color[pix * D + d];
                    vap[p] = v_alpha[pix];
                }
            const int64_t start = offsets[t];
            for (int32_t kk = kmax; kk >= 0; --kk) {
                const int32_t g = ids[start + kk];
                const S mx = means2d[2 * g], my = means2d[2 * g + 1];
                const S a = conics[3 * g], b = conics[3 * g + 1], c = conics[3 * g + 2];
                const S o = opac[g];
                if (o * S(255) <= S(1)) continue;
                const S smax = std::log(o * S(255)) + S(1e-3);
                S col[16];
                for (int d = 0; d < D; ++d) col[d] = colors[(int64_t)D * g + d];
                // Per-column partial sums (no cross-lane reduction inside the row loops):
                // rows 0..5 = means2d x, y, conic a, b, c, opacity; 6.. = colour channels.
                S R[6 + 16][64];
                for (int q = 0; q < 6 + D; ++q)
                    for (int l = 0; l < tw; ++l) R[q][l] = S(0);
                int J0[64], J1[64];
                if (!row_spans<S>(mx, my, a, b, c, smax, ty0, th, tx0, tx1, J0, J1)) continue;
                for (int y = ty0; y < ty1; ++y) {
                    const int j0 = J0[y - ty0], j1 = J1[y - ty0];
                    if (j0 > j1) continue;
                    const S dy = my - (S(y) + S(0.5));
                    const int base = (y - ty0) * tw - tx0;
#pragma omp simd
                    for (int x = j0; x <= j1; ++x) {
                        const int p = base + x, l = x - tx0;
                        const S dx = mx - (S(x) + S(0.5));
                        const S sigma = S(0.5) * (a * dx * dx + c * dy * dy) + b * dx * dy;
                        const S vis = sp_exp<S>(-sigma);
                        const S alpha = std::min(S(0.999), o * vis);
                        const bool valid = (kk <= lp[p]) & (sigma >= S(0)) & (alpha >= S(ALPHA_T));
                        const S ra = S(1) / (S(1) - alpha);
                        const S Tn = Tp[p] * ra;
                        const S fac = valid ? alpha * Tn : S(0);
                        S v_al = Tf[p] * ra * vap[p];
                        for (int d = 0; d < D; ++d) {
                            const S vcd = vcp[(size_t)d * npix + p];
                            const S bd = bp[(size_t)d * npix + p];
                            v_al += (col[d] * Tn - bd * ra) * vcd;
                            bp[(size_t)d * npix + p] = bd + col[d] * fac;
                            R[6 + d][l] += fac * vcd;
                        }
                        Tp[p] = valid ? Tn : Tp[p];
                        const bool grad_ok = valid & (o * vis <= S(0.999));
                        const S v_sigma = grad_ok ? -o * vis * v_al : S(0);
                        R[0][l] += v_sigma * (a * dx + b * dy);
                        R[1][l] += v_sigma * (b * dx + c * dy);
                        R[2][l] += S(0.5) * dx * dx * v_sigma;
                        R[3][l] += dx * dy * v_sigma;
                        R[4][l] += S(0.5) * dy * dy * v_sigma;
                        R[5][l] += grad_ok ? vis * v_al : S(0);
                    }
                }
                S sum[6 + 16];
                for (int q = 0; q < 6 + D; ++q) {
                    S acc = S(0);
                    for (int l = 0; l < tw; ++l) acc += R[q][l];
                    sum[q] = acc;
                }
                gm[2 * g] += sum[0]; gm[2 * g + 1] += sum[1];
                gc[3 * g] += sum[2]; gc[3 * g + 1] += sum[3]; gc[3 * g + 2] += sum[4];
                go[g] += sum[5];
                for (int d = 0; d < D; ++d) gcol[(int64_t)D * g + d] += sum[6 + d];
            }
        }
    }
    for (int k = 0; k < nt - 1; ++k) {
        const S* base = extra.data() + (size_t)k * per;
        for (int64_t i = 0; i < 2 * (int64_t)N; ++i) v_means2d[i] += base[i];
        base += 2 * (int64_t)N;
        for (int64_t i = 0; i < 3 * (int64_t)N; ++i) v_conics[i] += base[i];
        base += 3 * (int64_t)N;
        for (int64_t i = 0; i < (int64_t)D * N; ++i) v_colors[i] += base[i];
        base += (int64_t)D * N;
        for (int64_t i = 0; i < (int64_t)N; ++i) v_opac[i] += base[i];
    }
}

#define SP_EXPORT(S, SUF)                                                                          \
    extern "C" void sp_forward_##SUF(int W, int H, int tile, int D, const S* m, const S* cn,         \
                                      const S* col, const S* op, const int64_t* off,                 \
                                      const int32_t* ids, S* oc, S* oa, int32_t* last, int nth) {    \
        if (D == 3) forward_impl<S, 3>(W, H, tile, D, m, cn, col, op, off, ids, oc, oa, last, nth);  \
        else forward_impl<S, 0>(W, H, tile, D, m, cn, col, op, off, ids, oc, oa, last, nth);          \
    }                                                                                              \
    extern "C" void sp_backward_##SUF(int N, int W, int H, int tile, int D, const S* m, const S* cn, \
                                       const S* col, const S* op, const int64_t* off,                \
                                       const int32_t* ids, const S* oa, const int32_t* last,         \
                                       const S* vc, const S* va, S* gm, S* gc, S* gcol, S* go,       \
                                       int nth) {                                                    \
        if (D == 3)                                                                                \
            backward_impl<S, 3>(N, W, H, tile, D, m, cn, col, op, off, ids, oa, last, vc, va, gm, gc,  \
                                gcol, go, nth);                                                    \
        else                                                                                       \
            backward_impl<S, 0>(N, W, H, tile, D, m, cn, col, op, off, ids, oa, last, vc, va, gm, gc,  \
                                gcol, go, nth);                                                    \
    }
SP_EXPORT(float, f32)
SP_EXPORT(double, f64)
"""

// artsig explorer: a WebGL map (deck.gl) of a collection, its facets, cards, selections and annotations.
// Data come from data/works.js and data/neighbours.js (globals set by <script> tags: a file:// page
// cannot fetch()); atlas pages are scripts too (atlas/*.js), loaded when their works come into view,
// each holding its JPEG as a data: URL, so WebGL may read it (a file:// image would taint the texture).
(function () {
  'use strict';
  const W = window.ARTSIG_WORKS, NB = window.ARTSIG_NEIGHBOURS;
  const $ = (id) => document.getElementById(id);
  if (!W || !NB || !window.deck) {
    document.body.textContent = 'artsig explorer: data/works.js, data/neighbours.js or the vendored deck.gl did not load.';
    return;
  }
  const {Deck, OrthographicView, ScatterplotLayer, IconLayer, BitmapLayer} = window.deck;

  function decode(text, Type) {
    const bin = atob(text), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Type(bytes.buffer);
  }

  // ---- data ------------------------------------------------------------------------------
  const n = W.n;
  const columns = W.columns.map((c) => c.kind === 'category' ? {...c, codes: decode(c.codes, Int32Array)} : c);
  const column = Object.fromEntries(columns.map((c) => [c.name, c]));
  const cellValue = (c, i) => c.kind === 'category' ? (c.codes[i] < 0 ? null : c.values[c.codes[i]]) : c.data[i];
  const ids = Array.from({length: n}, (_, i) => String(cellValue(column.image_id, i)));
  const layouts = Object.fromEntries(Object.entries(W.layouts).map(([k, v]) => [k, decode(v, Float32Array)]));
  const clusterings = Object.entries(W.clusterings).map(([name, v]) => ({name, labels: decode(v, Int32Array)}));
  const infl = {cluster: decode(W.influences.cluster, Int32Array), resp: decode(W.influences.responsibility, Float32Array), top: W.influences.top};
  const nbIndex = decode(NB.index, Int32Array), nbDist = decode(NB.distance, Float32Array), K = NB.k;
  const cell = decode(W.thumbs.cell, Int32Array);
  const perSide = W.thumbs.perSide, perPage = perSide * perSide, tsize = W.thumbs.size;
  const dateCol = W.dateColumn ? column[W.dateColumn] : null;

  // facets: every category column and every clustering (values as strings, codes per work); numbers colour by a ramp
  const facets = [];
  for (const c of columns) {
    if (c.kind === 'category' && c.values.length <= 5000) facets.push({key: 'col:' + c.name, label: c.name, values: c.values, codes: c.codes});
  }
  for (const cl of clusterings) {
    const uniq = Array.from(new Set(cl.labels)).sort((a, b) => (a < 0) - (b < 0) || a - b);
    const pos = new Map(uniq.map((v, j) => [v, j]));
    const codes = new Int32Array(n);
    for (let i = 0; i < n; i++) codes[i] = pos.get(cl.labels[i]);
    facets.push({key: 'cl:' + cl.name, label: cl.name, clustering: true, values: uniq.map((v) => v < 0 ? 'noise' : 'cluster ' + v), raw: uniq, codes});
  }
  if (dateCol) facets.push({key: 'num:' + dateCol.name, label: dateCol.name + ' (ramp)', number: dateCol});
  const facet = Object.fromEntries(facets.map((f) => [f.key, f]));

  // ---- state -----------------------------------------------------------------------------
  const state = {
    layout: Object.keys(layouts)[0], colour: null, excluded: {}, dateLo: null, dateHi: null, undated: true,
    visible: new Uint8Array(n), visibleIdx: new Uint32Array(0), selected: new Uint8Array(n), nSelected: 0,
    card: -1, tool: 'pan', viewState: {target: [0, 0, 0], zoom: 0, minZoom: -12, maxZoom: 8},
  };
  const defaultColour = facets.find((f) => f.key === 'col:style') || facets.find((f) => f.clustering) || facets[0];
  state.colour = defaultColour ? defaultColour.key : null;

  // ---- colours ---------------------------------------------------------------------------
  const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac',
    '#1f77b4', '#aec7e8', '#ffbb78', '#98df8a', '#d62728', '#c5b0d5', '#8c564b', '#e377c2', '#bcbd22', '#17becf'];
  function hexRgb(h) { return [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16)]; }
  function valueColour(j, label) {
    if (label === 'noise') return [110, 110, 110];
    if (j < PALETTE.length) return hexRgb(PALETTE[j]);
    const h = (j * 137.508) % 360, s = 0.55, l = 0.6, a = s * Math.min(l, 1 - l);
    const f = (k) => { const t = (k + h / 30) % 12; return Math.round(255 * (l - a * Math.max(-1, Math.min(t - 3, 9 - t, 1)))); };
    return [f(0), f(8), f(4)];
  }
  const colours = new Uint8Array(n * 4);
  function computeColours() {
    const f = facet[state.colour];
    if (!f) { colours.fill(200); return; }
    if (f.number) {
      const vals = f.number.data, finite = vals.filter((v) => v !== null);
      const lo = Math.min(...finite), hi = Math.max(...finite), span = hi - lo || 1;
      for (let i = 0; i < n; i++) {
        const v = vals[i];
        const t = v === null ? -1 : (v - lo) / span;
        const rgb = t < 0 ? [90, 90, 90] : [Math.round(60 + 190 * t), Math.round(80 + 120 * (1 - Math.abs(t - 0.5) * 2)), Math.round(230 - 190 * t)];
        colours.set([...rgb, 255], i * 4);
      }
      return;
    }
    const table = f.values.map((v, j) => valueColour(j, v));
    for (let i = 0; i < n; i++) {
      const c = f.codes[i];
      colours.set(c < 0 ? [90, 90, 90, 255] : [...table[c], 255], i * 4);
    }
  }

  // ---- filters ---------------------------------------------------------------------------
  function applyFilters() {
    const excl = Object.entries(state.excluded).filter(([, s]) => s.size).map(([k, s]) => [facet[k], s]);
    let m = 0;
    for (let i = 0; i < n; i++) {
      let ok = true;
      for (const [f, s] of excl) if (s.has(f.codes[i])) { ok = false; break; }
      if (ok && dateCol && (state.dateLo !== null || state.dateHi !== null || !state.undated)) {
        const d = dateCol.data[i];
        if (d === null) ok = state.undated;
        else ok = (state.dateLo === null || d >= state.dateLo) && (state.dateHi === null || d <= state.dateHi);
      }
      state.visible[i] = ok ? 1 : 0;
      m += ok;
    }
    state.visibleIdx = new Uint32Array(m);
    for (let i = 0, j = 0; i < n; i++) if (state.visible[i]) state.visibleIdx[j++] = i;
    $('visible-count').textContent = m;
    const parts = [];
    for (const [f, s] of excl) parts.push(`${f.label}: ${s.size} value(s) hidden`);
    if (dateCol && (state.dateLo !== null || state.dateHi !== null)) parts.push(`${dateCol.name} ${state.dateLo ?? '…'}–${state.dateHi ?? '…'}`);
    if (dateCol && !state.undated) parts.push('undated hidden');
    $('active-filters').textContent = parts.join('; ');
  }

  // ---- the map ---------------------------------------------------------------------------
  const atlas = {images: {}, requested: {}};
  window.ARTSIG_ATLAS_LOADED = function (name, url) {
    const img = new Image();
    img.onload = () => { atlas.images[name] = img; scheduleRender(true); };
    img.src = url;
  };
  function requestPage(p) {
    if (atlas.requested[p]) return;
    atlas.requested[p] = true;
    const s = document.createElement('script');
    s.src = W.thumbs.pages[p];
    document.body.appendChild(s);
  }
  const mapping = {};
  for (let c = 0; c < perPage; c++) mapping[c] = {x: (c % perSide) * tsize, y: Math.floor(c / perSide) * tsize, width: tsize, height: tsize, mask: false};
  const pageName = (p) => W.thumbs.pages[p].split('/').pop().replace(/\.js$/, '');

  const pos = () => layouts[state.layout];
  // The dots as binary attributes, built once per change of filter, colour or layout (not per frame).
  // Above MOVING_DOTS works the view in motion shows an overview instead: the dots painted once into
  // one image (a single textured quad to draw; software WebGL draws 100k instanced dots at well under
  // a frame a second); every dot is drawn again once the view has rested.
  const MOVING_DOTS = 20000, REST_MS = 200, OVERVIEW_PX = 2048;
  let dots = null, overview = null, dataVersion = 0, isMoving = false, restTimer = null;
  function paintOverview(rows) {
    const P = pos();
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = P[2 * i], y = P[2 * i + 1];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    x0 -= 1; y0 -= 1; x1 += 1; y1 += 1;
    const scale = OVERVIEW_PX / Math.max(x1 - x0, y1 - y0);
    const w = Math.max(1, Math.round((x1 - x0) * scale)), h = Math.max(1, Math.round((y1 - y0) * scale));
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext('2d'), img = ctx.createImageData(w, h), px = img.data;
    const r = Math.max(1, Math.round(0.5 * scale));
    for (const i of rows) {
      const cx = Math.round((P[2 * i] - x0) * scale), cy = Math.round((P[2 * i + 1] - y0) * scale);
      for (let y = Math.max(0, cy - r); y < Math.min(h, cy + r); y++) {
        for (let x = Math.max(0, cx - r); x < Math.min(w, cx + r); x++) {
          const o = 4 * (y * w + x);
          px[o] = colours[4 * i]; px[o + 1] = colours[4 * i + 1]; px[o + 2] = colours[4 * i + 2]; px[o + 3] = 235;
        }
      }
    }
    ctx.putImageData(img, 0, 0);
    return {canvas, bounds: [x0, y1, x1, y0]};  // left, bottom, right, top: y grows downwards (flipY)
  }
  function binary(rows) {
    const P = pos(), m = rows.length, position = new Float32Array(m * 2), colour = new Uint8Array(m * 4);
    for (let j = 0; j < m; j++) {
      const i = rows[j];
      position[2 * j] = P[2 * i]; position[2 * j + 1] = P[2 * i + 1];
      colour[4 * j] = colours[4 * i]; colour[4 * j + 1] = colours[4 * i + 1]; colour[4 * j + 2] = colours[4 * i + 2]; colour[4 * j + 3] = 255;
    }
    return {rows, data: {length: m, attributes: {getPosition: {value: position, size: 2}, getFillColor: {value: colour, size: 4, normalized: true}}}};
  }
  function rebuildVisible() {
    const idx = state.visibleIdx, m = idx.length;
    dots = binary(idx);
    overview = m > MOVING_DOTS ? paintOverview(idx) : null;
    dataVersion++;
    thumbs.key = null;
  }
  // At rest once no change came for REST_MS and for two displayed frames (where software WebGL makes
  // frames slower than REST_MS, the timer alone would fire between two steps of one gesture).
  let ticks = 0, moveTick = 0;
  function tick() { ticks++; if (isMoving) requestAnimationFrame(tick); }
  function moving() { return isMoving; }
  function moved() {
    if (!isMoving) { isMoving = true; requestAnimationFrame(tick); }
    moveTick = ticks;
    clearTimeout(restTimer);
    const rest = () => { if (ticks - moveTick < 2) { restTimer = setTimeout(rest, REST_MS); return; } isMoving = false; scheduleRender(); };
    restTimer = setTimeout(rest, REST_MS);
  }

  const mapEl = $('map');
  const THUMB_PIXELS = 14, MAX_THUMBS = 8000;
  const thumbs = {key: null, byPage: {}, near: null, bounds: null};
  function viewport() {  // null until deck.gl has made its WebGL device (asynchronous in deck.gl 9)
    if (!deckgl.viewManager) return null;
    const v = deckgl.getViewports();
    return v && v[0];
  }
  function thumbMode() { return Math.pow(2, state.viewState.zoom) >= THUMB_PIXELS; }
  function updateThumbs() {
    if (!thumbMode()) { thumbs.byPage = {}; thumbs.near = null; thumbs.key = null; return; }
    const vp = viewport();
    if (!vp) return;
    const [x0, y0, x1, y1] = vp.getBounds();
    const zoomKey = Math.round(state.viewState.zoom);
    const b = thumbs.bounds;
    if (thumbs.key === zoomKey + ':' + dataVersion && b && x0 >= b[0] && y0 >= b[1] && x1 <= b[2] && y1 <= b[3]) return;
    const mx = (x1 - x0) * 0.25, my = (y1 - y0) * 0.25;  // a margin, so a small pan needs no new list
    const B = [x0 - mx - 1, y0 - my - 1, x1 + mx + 1, y1 + my + 1];
    const P = pos(), idx = state.visibleIdx, byPage = {};
    let count = 0;
    for (let j = 0; j < idx.length; j++) {
      const i = idx[j], x = P[2 * i], y = P[2 * i + 1];
      if (x < B[0] || x > B[2] || y < B[1] || y > B[3]) continue;
      const p = Math.floor(cell[i] / perPage);
      (byPage[p] = byPage[p] || []).push(i);
      if (++count > MAX_THUMBS) break;
    }
    thumbs.byPage = count > MAX_THUMBS ? {} : byPage;
    thumbs.near = count > MAX_THUMBS ? null : [].concat(...Object.values(byPage));  // the works in view: their dots alone are drawn
    thumbs.nearVersion = (thumbs.nearVersion || 0) + 1;
    thumbs.bounds = B;
    thumbs.key = zoomKey + ':' + dataVersion;
    for (const p of Object.keys(thumbs.byPage)) requestPage(+p);
  }

  function layers() {
    const P = pos();
    const out = [];
    const tm = thumbMode();
    updateThumbs();
    const loaded = Object.keys(thumbs.byPage).filter((p) => atlas.images[pageName(p)]);
    const near = tm ? thumbs.near : null;
    const lod = overview !== null && moving() && !near;
    if (overview) out.push(new BitmapLayer({id: 'overview', image: overview.canvas, bounds: overview.bounds, visible: lod, updateTriggers: {image: dataVersion}}));
    if (dots && dots.rows.length) {
      out.push(new ScatterplotLayer({
        id: 'dots', data: dots.data, visible: !lod && !near, radiusUnits: 'common', getRadius: 0.5, radiusMinPixels: 1.4, radiusMaxPixels: 60,
        pickable: true, stroked: false, opacity: 0.9,
      }));
    }
    if (near) {
      out.push(new ScatterplotLayer({
        id: 'dots-near', data: near, getPosition: (i) => [P[2 * i], P[2 * i + 1]], getFillColor: (i) => [colours[4 * i], colours[4 * i + 1], colours[4 * i + 2]],
        radiusUnits: 'common', getRadius: 0.5, pickable: true, opacity: loaded.length ? 0.35 : 0.9,
        updateTriggers: {getPosition: dataVersion, getFillColor: dataVersion},
      }));
    }
    for (const p of loaded) {
      out.push(new IconLayer({
        id: 'thumbs-' + p, data: thumbs.byPage[p], iconAtlas: atlas.images[pageName(p)], iconMapping: mapping,
        getIcon: (i) => String(cell[i] % perPage), getPosition: (i) => [P[2 * i], P[2 * i + 1]], sizeUnits: 'common', getSize: 1,
        billboard: true, pickable: true, updateTriggers: {getPosition: dataVersion},
      }));
    }
    const sel = [];
    if (state.nSelected) for (let j = 0; j < state.visibleIdx.length; j++) { const i = state.visibleIdx[j]; if (state.selected[i]) sel.push(i); }
    if (sel.length) {
      out.push(new ScatterplotLayer({
        id: 'selection', data: sel, getPosition: (i) => [P[2 * i], P[2 * i + 1]], radiusUnits: 'common', getRadius: 0.75, radiusMinPixels: 3,
        stroked: true, filled: false, getLineColor: [255, 255, 255, 230], lineWidthUnits: 'pixels', getLineWidth: 1.5, updateTriggers: {getPosition: dataVersion},
      }));
    }
    if (state.card >= 0) {
      out.push(new ScatterplotLayer({
        id: 'card', data: [state.card], getPosition: (i) => [P[2 * i], P[2 * i + 1]], radiusUnits: 'common', getRadius: 0.9, radiusMinPixels: 6,
        stroked: true, filled: false, getLineColor: [255, 60, 60, 255], lineWidthUnits: 'pixels', getLineWidth: 3, updateTriggers: {getPosition: dataVersion},
      }));
    }
    return out;
  }

  let pending = false, requested = 0, rendered = -1;
  function scheduleRender(force) {
    if (force) thumbs.key = null;
    requested++;
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; deckgl.setProps({layers: layers()}); status(); });
  }
  function status() {
    const px = Math.pow(2, state.viewState.zoom);
    $('status').textContent = thumbMode() ? `thumbnails (${px.toFixed(0)} px)` : 'dots: zoom in for thumbnails';
  }

  function fitView() {
    const P = pos();
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = P[2 * i], y = P[2 * i + 1];
      if (x < x0) x0 = x; if (x > x1) x1 = x; if (y < y0) y0 = y; if (y > y1) y1 = y;
    }
    const w = mapEl.clientWidth || 800, h = mapEl.clientHeight || 600;
    const zoom = Math.log2(Math.min(w / (x1 - x0 + 2), h / (y1 - y0 + 2)) * 0.92);
    state.viewState = {...state.viewState, target: [(x0 + x1) / 2, (y0 + y1) / 2, 0], zoom};
    deckgl.setProps({viewState: state.viewState});
  }

  // no double-click gestures: with them a click waits for a possible second one before it is handled
  const CONTROLLER = {doubleClickZoom: false, doubleClickDragZoom: false, inertia: false};
  let firstRender = true;
  const deckgl = new Deck({
    parent: mapEl, views: new OrthographicView({id: 'map', flipY: true}), viewState: state.viewState,
    controller: CONTROLLER, layers: [],
    onViewStateChange: ({viewState}) => { state.viewState = viewState; deckgl.setProps({viewState}); moved(); scheduleRender(); return viewState; },
    getCursor: ({isDragging, isHovering}) => state.tool !== 'pan' ? 'crosshair' : isHovering ? 'pointer' : isDragging ? 'grabbing' : 'grab',
    onAfterRender: () => {
      if (!pending) rendered = requested; if (firstRender) { firstRender = false; document.body.dataset.ready = '1'; window.explorer.readyAt = performance.now(); } },
  });

  // a click (not a drag) on a work opens its card; picked here rather than by deck.gl's gesture
  // recogniser, which holds a click back until it knows no double click follows
  let downAt = null;
  mapEl.addEventListener('pointerdown', (e) => { downAt = [e.clientX, e.clientY]; });
  mapEl.addEventListener('click', (e) => {
    if (state.tool !== 'pan' || e.shiftKey || !downAt || Math.hypot(e.clientX - downAt[0], e.clientY - downAt[1]) > 4) return;
    const r = mapEl.getBoundingClientRect();
    const info = deckgl.pickObject({x: e.clientX - r.left, y: e.clientY - r.top, radius: 2, layerIds: ['dots', 'dots-near', ...Object.keys(thumbs.byPage).map((p) => 'thumbs-' + p)]});
    if (!info || !info.layer) return;
    const i = info.layer.id === 'dots' ? dots.rows[info.index] : info.object;
    if (i !== undefined && i !== null && i >= 0) openCard(i);
  });

  // ---- side panel ------------------------------------------------------------------------
  function counts(f) {
    const total = new Int32Array(f.values.length), shown = new Int32Array(f.values.length);
    for (let i = 0; i < n; i++) { const c = f.codes[i]; if (c < 0) continue; total[c]++; if (state.visible[i]) shown[c]++; }
    return {total, shown};
  }
  function renderLegend() {
    const f = facet[state.colour], ul = $('legend');
    ul.innerHTML = '';
    if (!f || f.number) {
      if (f) ul.innerHTML = '<li class="muted">colour ramp: early = blue, late = red; filter dates below</li>';
      return;
    }
    const {total, shown} = counts(f), excl = state.excluded[f.key] || new Set();
    const frag = document.createDocumentFragment();
    f.values.forEach((v, j) => {
      const li = document.createElement('li');
      li.dataset.value = v;
      const [r, g, b] = valueColour(j, v);
      li.innerHTML = `<input type="checkbox" ${excl.has(j) ? '' : 'checked'}><span class="swatch" style="background:rgb(${r},${g},${b})"></span>` +
        `<span class="value" title="show only this value"></span><span class="count">${shown[j]}/${total[j]}</span>`;
      li.querySelector('.value').textContent = v;
      li.querySelector('input').addEventListener('change', (e) => setExcluded(f.key, j, !e.target.checked));
      li.querySelector('.value').addEventListener('click', () => only(f.key, j));
      if (f.clustering) {
        const btn = document.createElement('button');
        btn.textContent = 'CSV'; btn.title = 'export this cluster as CSV'; btn.className = 'export-cluster';
        btn.addEventListener('click', () => exportCluster(f, j));
        li.appendChild(btn);
      }
      frag.appendChild(li);
    });
    ul.appendChild(frag);
  }
  function setExcluded(key, j, hidden) {
    const s = state.excluded[key] = state.excluded[key] || new Set();
    hidden ? s.add(j) : s.delete(j);
    refresh();
  }
  function only(key, j) {
    state.excluded[key] = new Set(facet[key].values.map((_, k) => k).filter((k) => k !== j));
    refresh();
  }
  function refresh() { applyFilters(); rebuildVisible(); renderLegend(); scheduleRender(true); }

  function setup() {
    $('title').textContent = W.title;
    $('subtitle').textContent = `${n} works · features: ${W.features} · ${K} nearest neighbours by ${NB.metric}`;
    $('total-count').textContent = n;
    const lay = $('layout');
    for (const k of Object.keys(layouts)) lay.add(new Option(W.layoutNames[k], k));
    lay.addEventListener('change', () => { state.layout = lay.value; rebuildVisible(); fitView(); scheduleRender(true); });
    const col = $('colour-by');
    for (const f of facets) col.add(new Option(f.label, f.key));
    col.value = state.colour;
    col.addEventListener('change', () => { state.colour = col.value; computeColours(); rebuildVisible(); renderLegend(); scheduleRender(true); });
    $('filter-all').addEventListener('click', () => { state.excluded[state.colour] = new Set(); refresh(); });
    $('filter-none').addEventListener('click', () => { const f = facet[state.colour]; if (f && f.values) { state.excluded[f.key] = new Set(f.values.map((_, j) => j)); refresh(); } });
    $('clear-filters').addEventListener('click', () => {
      state.excluded = {}; state.dateLo = state.dateHi = null; state.undated = true;
      $('date-min').value = $('date-max').value = ''; $('date-undated').checked = true; refresh();
    });
    if (dateCol) {
      const finite = dateCol.data.filter((v) => v !== null);
      $('date-filter').hidden = false;
      $('date-min').placeholder = Math.min(...finite); $('date-max').placeholder = Math.max(...finite);
      const read = (el) => el.value === '' ? null : Number(el.value);
      $('date-min').addEventListener('change', (e) => { state.dateLo = read(e.target); refresh(); });
      $('date-max').addEventListener('change', (e) => { state.dateHi = read(e.target); refresh(); });
      $('date-undated').addEventListener('change', (e) => { state.undated = e.target.checked; refresh(); });
    }
    for (const t of ['pan', 'lasso', 'box']) $('tool-' + t).addEventListener('click', () => setTool(t));
    $('export-selection').addEventListener('click', exportSelection);
    $('clear-selection').addEventListener('click', () => { state.selected.fill(0); state.nSelected = 0; $('selection-count').textContent = 0; scheduleRender(); });
    $('card-close').addEventListener('click', closeCard);
    $('card-export-cluster').addEventListener('click', () => { if (state.card >= 0) { const f = cardClustering(); exportCluster(f, f.codes[state.card]); } });
    $('card-metric').textContent = `(${NB.metric})`;
    $('annotate-source').textContent = `${annotation.clusters.length} proposed clusters: ${W.annotation.source}`;
    $('annotate-open').addEventListener('click', openAnnotate);
    document.addEventListener('keydown', onKey);
    computeColours(); applyFilters(); rebuildVisible(); renderLegend(); fitView(); scheduleRender(true);
  }

  // ---- selections ------------------------------------------------------------------------
  function setTool(t) {
    state.tool = t;
    for (const x of ['pan', 'lasso', 'box']) $('tool-' + x).classList.toggle('active', x === t);
    deckgl.setProps({controller: t === 'pan' ? CONTROLLER : {...CONTROLLER, dragPan: false}});
  }
  let drag = null;
  mapEl.addEventListener('pointerdown', (e) => {
    const tool = e.shiftKey ? 'lasso' : state.tool;
    if (tool === 'pan' || e.button !== 0) return;
    if (e.shiftKey && state.tool === 'pan') deckgl.setProps({controller: {...CONTROLLER, dragPan: false}});
    const r = mapEl.getBoundingClientRect();
    drag = {tool, points: [[e.clientX - r.left, e.clientY - r.top]], additive: e.ctrlKey || e.metaKey, shift: e.shiftKey};
    e.preventDefault();
    e.stopPropagation();  // deck.gl never sees this press: no pan starts under the lasso
  }, true);
  window.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const r = mapEl.getBoundingClientRect();
    drag.points.push([e.clientX - r.left, e.clientY - r.top]);
    drawDrag();
  });
  window.addEventListener('pointerup', () => {
    if (!drag) return;
    const d = drag; drag = null;
    $('lasso-line').setAttribute('points', ''); ['x', 'y', 'width', 'height'].forEach((a) => $('box-rect').setAttribute(a, 0));
    if (d.shift && state.tool === 'pan') setTool('pan');
    if (d.points.length < 2) return;
    const poly = d.tool === 'box' ? boxPolygon(d.points[0], d.points[d.points.length - 1]) : d.points;
    selectPolygon(poly, d.additive);
  });
  function boxPolygon(a, b) { return [[a[0], a[1]], [b[0], a[1]], [b[0], b[1]], [a[0], b[1]]]; }
  function drawDrag() {
    if (drag.tool === 'box') {
      const [a, b] = [drag.points[0], drag.points[drag.points.length - 1]];
      const r = $('box-rect');
      r.setAttribute('x', Math.min(a[0], b[0])); r.setAttribute('y', Math.min(a[1], b[1]));
      r.setAttribute('width', Math.abs(a[0] - b[0])); r.setAttribute('height', Math.abs(a[1] - b[1]));
    } else {
      $('lasso-line').setAttribute('points', drag.points.map((p) => p.join(',')).join(' '));
    }
  }
  function inside(poly, x, y) {
    let hit = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xa, ya] = poly[a], [xb, yb] = poly[b];
      if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) hit = !hit;
    }
    return hit;
  }
  function selectPolygon(screenPoly, additive) {
    const vp = viewport();
    const poly = screenPoly.map((p) => vp.unproject(p));
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of poly) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    if (!additive) state.selected.fill(0);
    const P = pos();
    for (const i of state.visibleIdx) {
      const x = P[2 * i], y = P[2 * i + 1];
      if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && inside(poly, x, y)) state.selected[i] = 1;
    }
    state.nSelected = state.selected.reduce((a, b) => a + b, 0);
    $('selection-count').textContent = state.nSelected;
    scheduleRender();
  }

  // ---- CSV -------------------------------------------------------------------------------
  function csvField(v) {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function worksCsv(rows) {
    const header = columns.map((c) => c.name).concat(clusterings.map((c) => c.name));
    const lines = [header.map(csvField).join(',')];
    for (const i of rows) lines.push(columns.map((c) => csvField(cellValue(c, i))).concat(clusterings.map((c) => c.labels[i])).join(','));
    return lines.join('\n') + '\n';
  }
  function download(name, text) {
    const blob = new Blob([text], {type: 'text/csv'});
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    window.explorer.lastDownload = {name, text};
  }
  function exportSelection() {
    const rows = [];
    for (let i = 0; i < n; i++) if (state.selected[i]) rows.push(i);
    download(`selection-${rows.length}.csv`, worksCsv(rows));
  }
  function exportCluster(f, j) {
    const rows = [];
    for (let i = 0; i < n; i++) if (f.codes[i] === j) rows.push(i);
    const slug = (f.label + '-' + f.values[j]).replace(/[^A-Za-z0-9._-]+/g, '-');
    download(`${slug}.csv`, worksCsv(rows));
  }

  // ---- the card --------------------------------------------------------------------------
  function cardClustering() { return facets.find((f) => f.clustering); }
  function openCard(i) {
    state.card = i;
    $('card').hidden = false;
    $('card-image').src = W.thumbs.cards[cell[i]];
    $('card-title').textContent = ids[i];
    const f = cardClustering();
    $('card-cluster').textContent = f ? `${f.label}: ${f.values[f.codes[i]]} (${counts(f).total[f.codes[i]]} works)` : '';
    const inf = $('card-influences');
    inf.innerHTML = `<div class="small muted">mixture influences (${W.influences.clustering} responsibilities)</div>`;
    for (let t = 0; t < infl.top; t++) {
      const c = infl.cluster[i * infl.top + t], r = infl.resp[i * infl.top + t];
      const row = document.createElement('div');
      row.className = 'influence';
      row.innerHTML = `<span>component ${c}</span><span class="bar" style="width:${Math.max(1, r * 140)}px"></span><span>${r.toFixed(2)}</span>`;
      inf.appendChild(row);
    }
    const ol = $('card-neighbours');
    ol.innerHTML = '';
    for (let t = 0; t < K; t++) {
      const j = nbIndex[i * K + t], d = nbDist[i * K + t];
      const li = document.createElement('li');
      li.className = 'neighbour'; li.dataset.index = j; li.dataset.id = ids[j]; li.dataset.distance = d;
      li.innerHTML = `<img loading="lazy" alt=""><span class="id"></span> <span class="distance">${d.toFixed(3)}</span>`;
      li.querySelector('img').src = W.thumbs.cards[cell[j]];
      li.querySelector('.id').textContent = ids[j];
      li.addEventListener('click', () => { openCard(j); centreOn(j); });
      ol.appendChild(li);
    }
    const table = $('card-metadata');
    table.innerHTML = '';
    for (const c of columns) {
      const tr = table.insertRow();
      tr.insertCell().textContent = c.name;
      const v = cellValue(c, i);
      tr.insertCell().textContent = v === null ? '—' : v;
    }
    for (const cl of clusterings) { const tr = table.insertRow(); tr.insertCell().textContent = cl.name; tr.insertCell().textContent = cl.labels[i]; }
    scheduleRender();
  }
  function closeCard() { state.card = -1; $('card').hidden = true; scheduleRender(); }
  function centreOn(i) {
    const P = pos();
    state.viewState = {...state.viewState, target: [P[2 * i], P[2 * i + 1], 0]};
    deckgl.setProps({viewState: state.viewState});
    scheduleRender();
  }

  // ---- annotation ------------------------------------------------------------------------
  const A = W.annotation, acol = Object.fromEntries(A.columns.map((c, j) => [c, j]));
  const rowIndex = new Map(ids.map((id, i) => [id, i]));
  const annotation = {clusters: [], items: [], at: 0, decisions: new Map(), history: []};
  (function buildAnnotation() {
    const byCluster = new Map();
    A.rows.forEach((row, r) => {
      const c = row[acol.cluster];
      if (!byCluster.has(c)) byCluster.set(c, []);
      byCluster.get(c).push(r);
    });
    for (const [c, rows] of byCluster) {
      annotation.clusters.push({cluster: c, anchor: rows[0], rows});
      for (const r of rows.slice(1)) annotation.items.push({cluster: c, anchor: rows[0], row: r});
    }
  })();
  const rowKey = (r) => A.rows[r][acol.cluster] + '|' + A.rows[r][acol.image_id];
  function imageOf(r) { const i = rowIndex.get(String(A.rows[r][acol.image_id])); return i === undefined ? '' : W.thumbs.cards[cell[i]]; }
  function caption(r) {
    const row = A.rows[r], i = rowIndex.get(String(row[acol.image_id]));
    const extra = ['style', 'artist', 'date'].filter((c) => column[c] && i !== undefined).map((c) => cellValue(column[c], i)).filter((v) => v !== null);
    return `${row[acol.image_id]}${extra.length ? ' · ' + extra.join(' · ') : ''}`;
  }
  function openAnnotate() { $('annotate').hidden = false; showPair(); }
  function closeAnnotate() { $('annotate').hidden = true; }
  function showPair() {
    const items = annotation.items;
    if (!items.length) { $('annotate-question').textContent = 'No proposed pairs.'; return; }
    const at = Math.min(annotation.at, items.length - 1), it = items[at];
    const done = annotation.at >= items.length;
    const cl = annotation.clusters.findIndex((c) => c.cluster === it.cluster);
    $('annotate-progress').textContent = done ? `all ${items.length} pairs seen` :
      `pair ${at + 1} of ${items.length} · cluster ${it.cluster} (${cl + 1} of ${annotation.clusters.length})`;
    $('anchor-image').src = imageOf(it.anchor); $('anchor-caption').textContent = 'cluster ' + it.cluster + ' · ' + caption(it.anchor);
    $('candidate-image').src = imageOf(it.row); $('candidate-caption').textContent = caption(it.row);
    const dec = annotation.decisions.get(rowKey(it.row)) || '';
    $('candidate-image').className = dec;
    $('annotate-question').textContent = done ? 'Every pair has been seen: export the decisions.' : 'Do these two works share a visual motif?';
    const strip = $('annotate-strip');
    strip.innerHTML = '';
    for (const r of annotation.clusters[cl].rows) {
      const img = document.createElement('img');
      img.src = imageOf(r); img.title = A.rows[r][acol.image_id];
      img.className = (annotation.decisions.get(rowKey(r)) || '') + (r === it.row ? ' current' : '');
      strip.appendChild(img);
    }
    const vals = Array.from(annotation.decisions.values());
    $('annotate-counts').textContent = `${vals.filter((v) => v === 'accept').length} accepted, ${vals.filter((v) => v === 'reject').length} rejected`;
  }
  function decide(decision) {
    const it = annotation.items[annotation.at];
    if (!it) return;
    const key = rowKey(it.row);
    annotation.history.push({at: annotation.at, key, before: annotation.decisions.get(key)});
    if (decision) annotation.decisions.set(key, decision); else annotation.decisions.delete(key);
    annotation.at++;
    showPair();
  }
  function undo() {
    const h = annotation.history.pop();
    if (!h) return;
    if (h.before) annotation.decisions.set(h.key, h.before); else annotation.decisions.delete(h.key);
    annotation.at = h.at;
    showPair();
  }
  function nextCluster() {
    const c = (annotation.items[annotation.at] || {}).cluster;
    while (annotation.at < annotation.items.length && annotation.items[annotation.at].cluster === c) annotation.at++;
    showPair();
  }
  function annotationCsv() {
    // the candidates' decisions as made; an anchor is accepted once any work of its cluster was accepted with it
    const accepted = new Set();
    for (const [key, d] of annotation.decisions) if (d === 'accept') accepted.add(key.split('|')[0]);
    const lines = [A.columns.map(csvField).join(',')];
    for (const cl of annotation.clusters) {
      for (const r of cl.rows) {
        let d = annotation.decisions.get(rowKey(r)) || '';
        if (r === cl.anchor && accepted.has(String(cl.cluster))) d = 'accept';
        lines.push(A.columns.map((c) => c === 'decision' ? d : csvField(A.rows[r][acol[c]])).join(','));
      }
    }
    return lines.join('\n') + '\n';
  }
  function exportAnnotations() { download('annotations.csv', annotationCsv()); }
  $('annotate-accept').addEventListener('click', () => decide('accept'));
  $('annotate-reject').addEventListener('click', () => decide('reject'));
  $('annotate-skip').addEventListener('click', () => decide(''));
  $('annotate-export').addEventListener('click', exportAnnotations);
  $('annotate-close').addEventListener('click', closeAnnotate);

  function onKey(e) {
    if (e.target.tagName === 'INPUT' || e.target.tagName === 'SELECT') return;
    if (!$('annotate').hidden) {
      const k = e.key.toLowerCase();
      if (k === 'a' || e.key === 'ArrowRight') decide('accept');
      else if (k === 'r' || e.key === 'ArrowLeft') decide('reject');
      else if (k === 's' || e.key === 'ArrowDown') decide('');
      else if (k === 'u' || e.key === 'Backspace') undo();
      else if (k === 'n') nextCluster();
      else if (k === 'e') exportAnnotations();
      else if (e.key === 'Escape') closeAnnotate();
      else return;
      e.preventDefault();
      return;
    }
    if (e.key === 'Escape') closeCard();
    else if (e.key === 'l') setTool('lasso');
    else if (e.key === 'b') setTool('box');
    else if (e.key === 'p') setTool('pan');
  }

  // ---- for scripts and tests ---------------------------------------------------------------
  window.explorer = {
    n, ids, state, facets: facets.map((f) => f.key), layouts: Object.keys(layouts), deck: deckgl,
    screenPosition(i) { const vp = viewport(), P = pos(); const [x, y] = vp.project([P[2 * i], P[2 * i + 1]]); const r = mapEl.getBoundingClientRect(); return [x + r.left, y + r.top]; },
    openCard, closeCard, centreOn, setTool, fitView,
    selectedIds() { const out = []; for (let i = 0; i < n; i++) if (state.selected[i]) out.push(ids[i]); return out; },
    visibleCount() { return state.visibleIdx.length; },
    metrics() { return {...deckgl.metrics}; },  // deck.gl's own counters: cpuTime, gpuTime, fps, updateAttributesTime...
    setView(x, y, zoom) {  // as a pan or zoom by hand does (benchmarks drive the map with it)
      state.viewState = {...state.viewState, target: [x, y, 0], zoom};
      deckgl.setProps({viewState: state.viewState});
      moved();
      scheduleRender();
    },
    zoomTo(zoom) { state.viewState = {...state.viewState, zoom}; deckgl.setProps({viewState: state.viewState}); scheduleRender(true); },
    idle() {  // resolves once every change asked for has been drawn (tests wait on it before they click)
      const start = performance.now();
      return new Promise((resolve) => {
        const loading = () => Object.keys(atlas.requested).some((q) => !atlas.images[pageName(q)]);
        const poll = () => (!pending && rendered === requested && !loading() ? resolve(true) : performance.now() - start > 3000 ? resolve(false) : requestAnimationFrame(poll));
        poll();
      });
    },
    annotationCsv, thumbsShown() { return Object.values(thumbs.byPage).reduce((a, b) => a + b.length, 0); },
    atlasLoaded() { return Object.keys(atlas.images).length; },
  };
  setup();
})();

// Opened from disk (file://), a browser refuses the request Sphinx's search makes for each result's page, so the
// results come without excerpts. The build embeds each page's text (page-texts.js, only in search.html); this
// answers those requests from it. Served over HTTP, nothing changes.
(() => {
  if (location.protocol !== "file:" || !window.CPATH_PAGE_TEXTS) return;
  const root = new URL(document.documentElement.dataset.content_root || "./", location.href).href;
  const fromNetwork = window.fetch.bind(window);
  window.fetch = (resource, options) => {
    const url = new URL(String(resource), location.href).href.split("#")[0];
    const page = url.startsWith(root) ? url.slice(root.length) : null;
    if (page !== null && Object.prototype.hasOwnProperty.call(window.CPATH_PAGE_TEXTS, page)) {
      const body = window.CPATH_PAGE_TEXTS[page];
      return Promise.resolve(new Response(body, { headers: { "Content-Type": "text/html" } }));
    }
    return fromNetwork(resource, options);
  };
})();

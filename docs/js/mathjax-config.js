// Render the $...$ / $$...$$ equations (pymdownx.arithmatex, generic mode) with MathJax when
// it is available; the pages stay readable as plain TeX without it (no CDN is loaded here).
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" },
};

"""The pack's look: screen and A4 print."""

CSS = """
body{font-family:Arial,Helvetica,sans-serif;color:#111;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.45}
h1{font-size:2rem;margin-bottom:.2rem}h2{border-bottom:2px solid #0072B2;padding-bottom:.2rem;
margin-top:2.5rem}.meta{color:#444}.tiles{display:grid;grid-template-columns:repeat(3,1fr);
gap:.8rem;margin:1.5rem 0}.tile{border:1px solid #999;border-radius:6px;padding:.7rem}
.tile b{display:block;font-size:1.6rem}.chart{width:100%;height:auto;margin:.5rem 0}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #bbb;
padding:.2rem .5rem;text-align:right}th:first-child,td:first-child{text-align:left}
details{margin:.3rem 0 1rem}summary{cursor:pointer;color:#0058a0}.note{font-size:.85rem;
color:#444}.rag-red{background:#f4c7c3}.rag-amber{background:#fce8b2}.rag-green{background:#c8e6c9}
@media print{@page{size:A4;margin:16mm}body{margin:0;max-width:none}section{break-inside:
avoid-page}h2{break-after:avoid}details{display:block}details>summary{display:none}
details>*{display:block}.tiles{grid-template-columns:repeat(3,1fr)}}
"""

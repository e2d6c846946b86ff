/**
 * The extension's icon: a rising curve over a grid, drawn with JupyterLab's icon classes so it
 * takes the theme's colours.
 */

import { LabIcon } from '@jupyterlab/ui-components';

const SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7.5 16.2 6.1 14.8l4.6-4.6 3 3 5.2-6.1 1.5 1.3-6.6 7.7-3.1-3.1z"/>
    <circle cx="19.6" cy="5.4" r="1.6"/>
  </g>
</svg>`;

export const mltrackIcon = new LabIcon({ name: 'jupyter-mltrack:icon', svgstr: SVG });

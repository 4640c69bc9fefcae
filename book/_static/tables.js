/* Evidence site: label the cells of card tables with their column headings, and show a
 * "scroll sideways" cue above any table wider than the page. Local script, no network;
 * headings are copied with textContent into an attribute, never inserted as HTML. */
(function () {
  "use strict";

  function label(container) {
    var table = container.querySelector("table");
    if (!table || !table.tHead) {
      return;
    }
    var headings = Array.prototype.map.call(table.tHead.rows[0].cells, function (cell) {
      return cell.textContent.trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        Array.prototype.forEach.call(row.cells, function (cell, index) {
          if (headings[index]) {
            cell.setAttribute("data-label", headings[index]);
          }
          if (cell.textContent.trim() === "") {
            cell.classList.add("blank");
          }
        });
      });
    });
    container.classList.add("labelled");
  }

  function cue(container) {
    var table = container.querySelector("table");
    var scroller = table ? table.parentElement : null;
    if (!scroller || container.querySelector("p.scroll-cue")) {
      return;
    }
    if (table.scrollWidth > scroller.clientWidth + 1) {
      var note = document.createElement("p");
      note.className = "scroll-cue";
      if (container.classList.contains("cards") ||
          container.classList.contains("summary-of-findings")) {
        note.classList.add("for-cards");
      }
      note.textContent = "Scroll sideways to see every column \u2192";
      container.insertBefore(note, container.firstChild);
    }
  }

  function ready() {
    var cards = document.querySelectorAll("div.cards, div.summary-of-findings");
    Array.prototype.forEach.call(cards, label);
    Array.prototype.forEach.call(document.querySelectorAll("div.table-scroll"), cue);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

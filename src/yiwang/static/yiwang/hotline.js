/* 示范市一网通办 — 12345 hotline page enhancements. Every page works without this file:
 * without it, coordinates are typed into the two number fields, and the anonymous box is always shown. */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";

  function ready(fn) {
    if (document.readyState !== "loading") {
      fn();
    } else {
      document.addEventListener("DOMContentLoaded", fn);
    }
  }

  function projection(svg) {
    return {
      minLon: parseFloat(svg.getAttribute("data-min-lon")),
      maxLat: parseFloat(svg.getAttribute("data-max-lat")),
      scale: parseFloat(svg.getAttribute("data-scale")),
      lonFactor: parseFloat(svg.getAttribute("data-lon-factor"))
    };
  }

  // x = (lon - minLon) * scale * lonFactor, y = (maxLat - lat) * scale: the server's projection, both ways.
  function toLonLat(p, x, y) {
    return { lon: p.minLon + x / (p.scale * p.lonFactor), lat: p.maxLat - y / p.scale };
  }

  function toXY(p, lon, lat) {
    return { x: (lon - p.minLon) * p.scale * p.lonFactor, y: (p.maxLat - lat) * p.scale };
  }

  function marker(svg) {
    var circle = svg.querySelector("circle.grid-point");
    if (!circle) {
      circle = document.createElementNS(SVG_NS, "circle");
      circle.setAttribute("class", "grid-point");
      circle.setAttribute("r", "6");
      circle.setAttribute("fill", "#d93025");
      circle.setAttribute("stroke", "#ffffff");
      circle.setAttribute("stroke-width", "2");
      circle.setAttribute("pointer-events", "none");
      svg.appendChild(circle);
    }
    return circle;
  }

  function setUpPicker(picker) {
    var svg = picker.querySelector("svg.grid-map");
    var lonInput = document.getElementById(picker.getAttribute("data-lon-input"));
    var latInput = document.getElementById(picker.getAttribute("data-lat-input"));
    var status = picker.querySelector("[data-map-status]");
    if (!lonInput || !latInput) {
      return;
    }
    var p = svg ? projection(svg) : null;

    function place(lon, lat) {
      if (!svg || !isFinite(lon) || !isFinite(lat)) {
        return;
      }
      var xy = toXY(p, lon, lat);
      var circle = marker(svg);
      circle.setAttribute("cx", xy.x.toFixed(2));
      circle.setAttribute("cy", xy.y.toFixed(2));
    }

    function announce(lon, lat, cellName) {
      if (!status) {
        return;
      }
      var text = "已选择位置：经度 " + lon.toFixed(6) + "，纬度 " + lat.toFixed(6);
      status.textContent = cellName ? text + "（" + cellName + "）" : text;
    }

    if (svg && typeof svg.createSVGPoint === "function") {
      svg.addEventListener("click", function (event) {
        var matrix = svg.getScreenCTM();
        if (!matrix) {
          return;
        }
        var point = svg.createSVGPoint();
        point.x = event.clientX;
        point.y = event.clientY;
        var inside = point.matrixTransform(matrix.inverse());
        var spot = toLonLat(p, inside.x, inside.y);
        lonInput.value = spot.lon.toFixed(6);
        latInput.value = spot.lat.toFixed(6);
        place(spot.lon, spot.lat);
        var cell = event.target.closest ? event.target.closest("path[data-code]") : null;
        var title = cell ? cell.querySelector("title") : null;
        announce(spot.lon, spot.lat, title ? title.textContent : "");
      });
      // Typed by hand: show the point too.
      [lonInput, latInput].forEach(function (input) {
        input.addEventListener("change", function () {
          place(parseFloat(lonInput.value), parseFloat(latInput.value));
        });
      });
    }

    var locate = picker.querySelector("[data-locate]");
    if (locate && navigator.geolocation) {
      locate.hidden = false;
      locate.querySelector("button").addEventListener("click", function () {
        navigator.geolocation.getCurrentPosition(
          function (position) {
            var lon = position.coords.longitude;
            var lat = position.coords.latitude;
            lonInput.value = lon.toFixed(6);
            latInput.value = lat.toFixed(6);
            place(lon, lat);
            announce(lon, lat, "");
          },
          function () {
            if (status) {
              status.textContent = "无法获取当前位置，请在地图上点击或直接填写经纬度。";
            }
          },
          { enableHighAccuracy: true, timeout: 10000 }
        );
      });
    }
  }

  // Only a report (举报) may be anonymous: show the box for reports alone.
  function setUpKindForm(form) {
    var box = form.querySelector("input[name$=anonymous][type=checkbox]");
    var radios = form.querySelectorAll("input[name$=kind][type=radio]");
    if (!box || !radios.length) {
      return;
    }
    var wrapper = box.closest(".field") || box.parentNode;
    function update() {
      var chosen = form.querySelector("input[name$=kind][type=radio]:checked");
      var report = chosen && chosen.value === "report";
      wrapper.hidden = !report;
      if (!report) {
        box.checked = false;
      }
    }
    Array.prototype.forEach.call(radios, function (radio) {
      radio.addEventListener("change", update);
    });
    update();
  }

  ready(function () {
    Array.prototype.forEach.call(document.querySelectorAll("[data-map-picker]"), setUpPicker);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-kind-form]"), setUpKindForm);
    // A page re-shown with problems: take the keyboard to the list of them.
    var problems = document.querySelector(".alert-error[tabindex='-1']");
    if (problems) {
      problems.focus();
    }
  });
})();
